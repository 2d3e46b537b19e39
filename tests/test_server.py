"""The HTTP service through FastAPI's test client: every response the issue names."""
from __future__ import annotations

import asyncio
import io
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFile

from ferx.inference.recognizer import EmotionRecognizer
from ferx.serving.server import create_app

from hostile import png_bomb
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
        r = client.post("/predict", content=junk)
        assert r.status_code == 415 and r.json()["error"].startswith("body: not a readable image (")
    assert client.get("/healthz").status_code == 200


def post_streamed(app, chunks: int, size: int) -> tuple[int, dict, int]:
    """POST /predict with a chunked body (no Content-Length): status, JSON and how many chunks the app read."""
    pulled = 0

    async def body():
        nonlocal pulled
        for _ in range(chunks):
            pulled += 1
            yield b"\xff" * size

    async def post():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferx") as c:
            return await c.post("/predict", content=body())

    r = asyncio.run(post())
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    return r.status_code, r.json(), pulled


def test_streamed_upload_over_the_limit_is_413_and_not_read_to_the_end(client: TestClient) -> None:
    status, body, pulled = post_streamed(client.app, chunks=100, size=10_000)  # 1 MB against 200 kB
    assert status == 413 and body == {"error": "upload is over the 200000-byte limit"}
    assert pulled == 21  # reading stopped at the first chunk over the limit
    status, body, _ = post_streamed(client.app, chunks=10, size=10_000)  # under the limit: read, then judged
    assert status == 415 and body["error"] == "body: not a readable image (UnidentifiedImageError)"


def test_too_many_pixels_is_413_without_decoding(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def load(self):
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    bomb = png_bomb(13000, 13000)
    for kwargs in (dict(content=bomb), dict(files={"file": ("bomb.png", bomb, "image/png")})):
        r = client.post("/predict", **kwargs)
        assert r.status_code == 413
        assert r.json()["error"].endswith(": 13000x13000 image (169,000,000 pixels) is over the limit of 40,000,000 "
                                          "pixels (max_pixels)")
    small = TestClient(create_app(EmotionRecognizer(detector=None, max_pixels=10_000)))
    buf = io.BytesIO()
    Image.new("RGB", (101, 100)).save(buf, "PNG")
    assert small.post("/predict", content=buf.getvalue()).status_code == 413  # the recognizer's limit is the app's


def test_images_analysed_at_once_are_bounded() -> None:
    active, peak, lock = 0, 0, threading.Lock()

    def slow_detector(gray):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.2)
        with lock:
            active -= 1
        return []

    app = create_app(EmotionRecognizer(detector=slow_detector, tta="none"), max_concurrent=2)
    buf = io.BytesIO()
    Image.fromarray(background(60, 80)).save(buf, "PNG")

    async def burst():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferx") as c:
            return await asyncio.gather(*(c.post("/predict", content=buf.getvalue()) for _ in range(6)))

    assert [r.status_code for r in asyncio.run(burst())] == [200] * 6
    assert peak == 2
