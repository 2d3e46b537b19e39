"""A short video written with OpenCV from pasted-face scenes, processed end to end by `ferx video`."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from ferx.cli import main
from ferx.inference.recognizer import Face
from ferx.inference.video import FaceSmoother

from scenes import background, detectable_faces, paste

FRAMES = 12


@pytest.fixture(scope="module")
def clip(fer_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames, 320x240 at 10 fps: one face drifting right by 4 px a frame."""
    face = detectable_faces(str(fer_root))[0]
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for i in range(FRAMES):
        frame = background(240, 320)
        paste(frame, face, 60 + 4 * i, 50, 130)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_video_end_to_end(clip: Path, tmp_path: Path, capsys) -> None:
    out, frames_csv = tmp_path / "annotated.mp4", tmp_path / "frames.csv"
    assert main(["video", str(clip), "--out", str(out), "--csv", str(frames_csv)]) == 0
    rows = list(csv.DictReader(open(frames_csv)))
    assert len({r["frame"] for r in rows}) >= FRAMES - 1  # the face is found in (almost) every frame
    assert {r["face_id"] for r in rows} == {"0"}  # one face, tracked as one across frames
    assert float(rows[1]["time_s"]) == pytest.approx(0.1)
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (320, 240)
    cap.release()


def test_frame_skipping(clip: Path, tmp_path: Path) -> None:
    assert main(["video", str(clip), "--every", "4", "--csv", str(tmp_path / "f.csv")]) == 0
    frames = sorted({int(r["frame"]) for r in csv.DictReader(open(tmp_path / "f.csv"))})
    assert set(frames) <= {0, 4, 8} and len(frames) >= 2


def test_smoother_averages_matched_faces_and_keeps_new_ones_apart() -> None:
    s = FaceSmoother(alpha=0.5)
    sad = {"angry": 0, "disgust": 0, "fear": 0, "happy": 0, "neutral": 0, "sad": 1.0, "surprise": 0}
    happy = dict(sad, sad=0.0, happy=1.0)
    s.update([Face((0, 0, 100, 100), "sad", sad)])
    (tid, f), = s.update([Face((5, 0, 100, 100), "happy", happy)])
    assert tid == 0 and f.scores["happy"] == pytest.approx(0.5) and f.scores["sad"] == pytest.approx(0.5)
    (tid2, f2), = s.update([Face((400, 0, 100, 100), "happy", happy)])
    assert tid2 == 1 and f2.scores["happy"] == 1.0


def test_unopenable_video_and_camera(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert main(["video", str(bad), "--csv", str(tmp_path / "f.csv")]) == 2
    assert main(["video", str(tmp_path / "missing.mp4")]) == 2
    assert main(["video", "--camera", "97", "--csv", str(tmp_path / "c.csv")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert str(bad) in errors[0] and "missing.mp4: no such video file" in errors[1] and "camera 97" in errors[2]
    assert not (tmp_path / "f.csv").exists()
