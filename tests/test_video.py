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


class FakeCapture:
    """A capture that replays `frames`, reports `count` as its frame count, and can fail at frame `fail_at`."""

    def __init__(self, frames: list[np.ndarray], count: int = -1, fail_at: int | None = None,
                 error: type[BaseException] = KeyboardInterrupt):
        self.frames, self.count, self.fail_at, self.error, self.i = frames, count, fail_at, error, 0

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_COUNT: float(self.count)}.get(prop, 0.0)

    def read(self):
        if self.i == self.fail_at:
            raise self.error("simulated") if self.error is not cv2.error else cv2.error("simulated read failure")
        if self.i >= len(self.frames):
            return False, None
        self.i += 1
        return True, self.frames[self.i - 1].copy()

    def release(self) -> None:
        pass


@pytest.fixture(scope="module")
def clip_frames(clip: Path) -> list[np.ndarray]:
    cap, frames = cv2.VideoCapture(str(clip)), []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    assert len(frames) == FRAMES
    return frames


def _fake(monkeypatch, capture: FakeCapture) -> None:
    import ferx.inference.video as video

    monkeypatch.setattr(video, "open_capture", lambda source: capture)


@pytest.mark.parametrize("count", [-1, 0, 3])
def test_reads_until_the_stream_ends_whatever_count_is_reported(clip_frames, clip: Path, tmp_path: Path,
                                                                  monkeypatch, count: int) -> None:
    _fake(monkeypatch, FakeCapture(clip_frames, count=count))
    out, frames_csv = tmp_path / "a.mp4", tmp_path / "f.csv"
    assert main(["video", str(clip), "--tta", "none", "--out", str(out), "--csv", str(frames_csv)]) == 0
    assert max(int(r["frame"]) for r in csv.DictReader(open(frames_csv))) >= FRAMES - 2
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()


@pytest.mark.parametrize("error, code, said", [(KeyboardInterrupt, 130, "interrupted"), (cv2.error, 2, "read error")])
def test_ctrl_c_or_read_error_keeps_what_was_recorded(clip_frames, clip: Path, tmp_path: Path, monkeypatch, capsys,
                                                       error, code: int, said: str) -> None:
    _fake(monkeypatch, FakeCapture(clip_frames, count=0, fail_at=5, error=error))
    out, frames_csv = tmp_path / "a.mp4", tmp_path / "f.csv"
    assert main(["video", str(clip), "--tta", "none", "--out", str(out), "--csv", str(frames_csv)]) == code
    err = capsys.readouterr().err
    assert f"{said}" in err and "after 5 frame(s)" in err and str(out) in err and str(frames_csv) in err
    frames = {int(r["frame"]) for r in csv.DictReader(open(frames_csv))}
    assert frames and max(frames) == 4
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()
    assert not list(tmp_path.glob(".*tmp*")), "no temporary files left behind"


@pytest.mark.parametrize("flags, message", [
    (["--every", "0"], "every 0"), (["--smooth", "1.5"], "smooth 1.5"), (["--smooth", "-0.1"], "smooth -0.1"),
    (["--max-frames", "0"], "max_frames 0"),
])
def test_bad_video_options_are_one_line_errors(clip: Path, tmp_path: Path, capsys, flags, message) -> None:
    assert main(["video", str(clip), "--csv", str(tmp_path / "f.csv"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_library_checks_the_same_video_options(clip: Path) -> None:
    from ferx import FerxError
    from ferx.inference.video import process_video

    for kwargs in ({"every": 0}, {"smooth": 2.0}):
        with pytest.raises(FerxError):
            process_video(str(clip), None, **kwargs)
    with pytest.raises(FerxError, match="smooth"):
        FaceSmoother(alpha=-1)
