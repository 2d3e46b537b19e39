"""The HTTP service through FastAPI's test client: every response the issue names."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ferx.inference.recognizer import EmotionRecognizer
from ferx.serving.server import create_app

from scenes import background, detectable_faces, paste


@pytest.fixture(scope="module")
def photo(fer_root: Path) -> bytes:
    img = background(360, 480)
    paste(img, detectable_faces(str(fer_root))[0], 150, 80, 160)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=95)
    return buf.getvalue()


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(EmotionRecognizer(), max_bytes=200_000))


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_page(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"] and 'id="file"' in r.text


def test_multipart_and_raw_uploads_agree_with_the_library(client: TestClient, photo: bytes) -> None:
    multipart = client.post("/predict", files={"file": ("face.jpg", photo, "image/jpeg")})
    raw = client.post("/predict", content=photo, headers={"content-type": "image/jpeg"})
    assert multipart.status_code == raw.status_code == 200
    assert multipart.json() == raw.json()
    body = multipart.json()
    assert (body["width"], body["height"]) == (480, 360)
    (face,) = body["faces"]
    (expected,) = EmotionRecognizer().predict(Image.open(io.BytesIO(photo)))
    assert face["box"] == list(expected.box) and face["emotion"] == expected.emotion
    assert face["scores"] == pytest.approx(expected.scores, abs=1e-6)


def test_no_face_is_an_empty_list(client: TestClient) -> None:
    buf = io.BytesIO()
    Image.fromarray(background(200, 200, seed=4)).save(buf, "PNG")
    r = client.post("/predict", files={"file": ("empty.png", buf.getvalue(), "image/png")})
    assert r.status_code == 200 and r.json()["faces"] == []


def test_too_large_upload_is_413(client: TestClient) -> None:
    r = client.post("/predict", content=b"\xff" * 300_000, headers={"content-type": "image/jpeg"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_non_image_is_415_with_json_error(client: TestClient) -> None:
    r = client.post("/predict", files={"file": ("notes.txt", b"hello, not an image", "text/plain")})
    assert r.status_code == 415 and "notes.txt: not a readable image" in r.json()["error"]


@pytest.mark.parametrize("kwargs", [dict(content=b""), dict(files={"other": ("x.jpg", b"abc", "image/jpeg")})])
def test_empty_or_misnamed_upload_is_422(client: TestClient, kwargs: dict) -> None:
    r = client.post("/predict", **kwargs)
    assert r.status_code == 422 and "error" in r.json()


def test_server_survives_bad_input(client: TestClient, photo: bytes) -> None:
    for junk in (b"\x89PNG\r\n\x1a\n broken", photo[: len(photo) // 3], b"GIF89a"):
        assert client.post("/predict", content=junk).status_code in (200, 415)
    assert client.get("/healthz").status_code == 200
