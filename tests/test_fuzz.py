"""Over 300 malformed, odd and hostile files (tests/hostile.py) through the API, `ferx predict` and POST /predict:
never a traceback or a 500; each one a clear error naming it or the right answer; the three paths agree."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ferx.cli import main
from ferx.errors import FerxError, ImageTooLarge
from ferx.inference.faces.crop import crop_faces
from ferx.inference.images import to_gray
from ferx.inference.recognizer import EmotionRecognizer
from ferx.serving.server import create_app

from hostile import Case, corpus

CASES = corpus(seed=16)


@pytest.fixture(scope="module")
def rec() -> EmotionRecognizer:
    """The whole image is the face and one pass per face: every answer can be checked, and quickly."""
    return EmotionRecognizer(detector=None, tta="none")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Case, Path]]:
    d = tmp_path_factory.mktemp("hostile")
    out = []
    for case in CASES:
        (d / case.name).write_bytes(case.data)
        out.append((case, d / case.name))
    return out


@pytest.fixture(scope="module")
def api(rec: EmotionRecognizer, files) -> dict[str, list | FerxError]:
    """What the library makes of each file: its faces, or the FerxError it raised (anything else fails here)."""
    outcome = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns about corrupt metadata in files it still reads
        for case, path in files:
            try:
                outcome[case.name] = rec.predict(path)
            except FerxError as exc:
                outcome[case.name] = exc
    return outcome


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CASES) >= 300 and len({c.name for c in CASES}) == len(CASES)
    kinds = {c.expect for c in CASES}
    assert kinds == {"ok", "too_large", "error", "any"}
    names = " ".join(c.name for c in CASES)
    for kind in ("cut", "flip", "random", "empty", "bomb", "gray16", "cmyk", "palette_transparent", "animated.gif",
                 "exif0", "exif65535", "rgba", "_named."):
        assert kind in names, kind


def test_api_answers_right_or_raises_a_one_line_error_naming_the_file(rec, files, api) -> None:
    for case, path in files:
        got = api[case.name]
        if isinstance(got, FerxError):
            assert case.expect in ("too_large", "error", "any"), f"{case.name}: {got}"
            assert isinstance(got, ImageTooLarge) == (case.expect == "too_large"), case.name
            assert str(got).startswith(f"{path}: ") and "\n" not in str(got)
            continue
        assert case.expect in ("ok", "any"), case.name
        (face,) = got
        assert abs(sum(face.scores.values()) - 1) < 1e-5
        if case.expect == "ok":
            h, w = case.gray.shape
            assert face.box == (0, 0, w, h), case.name  # EXIF orientation applied
            gray = to_gray(path)
            assert np.abs(gray.astype(float) - case.gray).mean() <= max(case.tol, 0.5), case.name
            expected = rec.classify(crop_faces(case.gray.astype(np.uint8), [face.box]))[0]
            if case.tol <= 0.5:  # lossless: the same pixels give the same scores
                np.testing.assert_allclose(list(face.scores.values()), expected, atol=0.02, err_msg=case.name)


def test_cli_reports_each_bad_file_in_one_line_and_processes_the_rest(files, api, tmp_path: Path, capsys) -> None:
    out = tmp_path / "faces.json"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["predict", *(str(p) for _, p in files), "--no-detect", "--tta", "none", "--json", str(out)])
    assert code == 0
    assert not caught, [str(w.message) for w in caught]  # nothing but one-line errors on stderr
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert all(line.startswith("ferx: error: ") for line in lines)
    failed = {str(p) for c, p in files if isinstance(api[c.name], FerxError)}
    assert {line.removeprefix("ferx: error: ").split(": ")[0] for line in lines} == failed
    assert len(lines) == len(failed)
    results = json.loads(out.read_text())
    assert set(results) == {str(p) for _, p in files} - failed  # every readable file done, whatever came before
    for case, path in files:
        if str(path) in results:
            (face,) = results[str(path)]
            (want,) = api[case.name]
            assert face["box"] == list(want.box) and face["scores"] == pytest.approx(want.scores, abs=1e-6)


def test_server_answers_200_413_415_or_422_never_500(rec, files, api) -> None:
    client = TestClient(create_app(rec))  # an exception inside the app would be raised here, not hidden as a 500
    for i, (case, path) in enumerate(files):
        multipart = i % 4 == 0
        if multipart:
            r = client.post("/predict", files={"file": (case.name, case.data, "application/octet-stream")})
        else:
            r = client.post("/predict", content=case.data, headers={"content-type": "application/octet-stream"})
        got = api[case.name]
        if not case.data:
            assert r.status_code == 422 and r.json()["error"] == "empty upload"
        elif isinstance(got, FerxError):
            assert r.status_code == (413 if isinstance(got, ImageTooLarge) else 415), case.name
            message = r.json()["error"]
            assert message.startswith(f"{case.name if multipart else 'body'}: ") and "\n" not in message
            assert message.split(": ", 1)[1] == str(got).split(": ", 1)[1]
        else:
            assert r.status_code == 200, case.name
            body = r.json()
            (face,) = body["faces"]
            (want,) = got
            assert [0, 0, body["width"], body["height"]] == face["box"] == list(want.box)
            assert face["scores"] == pytest.approx(want.scores, abs=1e-6)
    assert client.get("/healthz").json() == {"status": "ok"}
