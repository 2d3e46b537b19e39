"""Expressions in video files and camera streams: per-frame faces, smoothed over time, annotated output."""
from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .annotate import draw_faces
from ..errors import FerxError
from .faces.crop import Box, iou
from ..files import atomic_path
from .outputs import face_row, write_csv
from .recognizer import EmotionRecognizer, Face


@dataclass
class FaceSmoother:
    """Exponential moving average of each face's probabilities; faces are matched across frames by box overlap."""

    alpha: float = 0.5  # weight of the newest frame; 1 disables smoothing
    min_iou: float = 0.3
    tracks: dict[int, tuple[Box, np.ndarray]] = field(default_factory=dict)
    next_id: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.alpha <= 1:
            raise FerxError(f"smooth {self.alpha:g}: the newest frame's weight, between 0 and 1 (1: no smoothing)")

    def update(self, faces: list[Face]) -> list[tuple[int, Face]]:
        free = dict(self.tracks)
        out, tracks = [], {}
        for face in faces:
            classes = list(face.scores)  # the model's own classes, in its output order
            new = np.array([face.scores[c] for c in classes])
            match = max(free, key=lambda t: iou(face.box, free[t][0]), default=None)
            if match is not None and iou(face.box, free[match][0]) >= self.min_iou:
                probs = self.alpha * new + (1 - self.alpha) * free.pop(match)[1]
                track_id = match
            else:
                probs, track_id = new, self.next_id
                self.next_id += 1
            tracks[track_id] = (face.box, probs)
            smoothed = Face(face.box, classes[int(probs.argmax())], {c: float(p) for c, p in zip(classes, probs)})
            out.append((track_id, smoothed))
        self.tracks = tracks
        return out


def open_capture(source: str | int) -> cv2.VideoCapture:
    if isinstance(source, str) and not Path(source).exists():
        raise FerxError(f"{source}: no such video file")
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"{source}"
        raise FerxError(f"{what}: cannot open video")
    return cap


@dataclass
class VideoResult:
    """What `process_video` did: the per-face rows, the frames read and why it stopped before the stream's end."""

    rows: list[dict]
    frames: int
    stopped: str | None = None  # None: the stream (or max_frames) ended; else "interrupted" or "read error: ..."


def check_video_options(every: int, smooth: float, max_frames: int | None) -> None:
    """One-line errors for options that cannot work (the CLI and the API share them)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise FerxError(f"every {every!r}: analyse every N-th frame needs N >= 1")
    if not 0 <= smooth <= 1:
        raise FerxError(f"smooth {smooth:g}: the newest frame's weight, between 0 and 1 (1: no smoothing)")
    if max_frames is not None and max_frames < 1:
        raise FerxError(f"max_frames {max_frames}: must be at least 1")


def process_video(
    source: str | int,
    recognizer: EmotionRecognizer,
    out_video: str | os.PathLike | None = None,
    csv_path: str | os.PathLike | None = None,
    every: int = 1,
    smooth: float = 0.5,
    show: bool = False,
    max_frames: int | None = None,
) -> VideoResult:
    """Detection + classification on every `every`-th frame until the stream ends (or `max_frames`).

    The frame count a container reports is only a progress hint (-1, 0 or too low for some files, 0 for cameras).
    Ctrl-C or a read error stops the loop; the video and CSV recorded so far are still written.
    """
    check_video_options(every, smooth, max_frames)
    cap = open_capture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    smoother = FaceSmoother(alpha=smooth)
    rows: list[dict] = []
    faces: list[tuple[int, Face]] = []
    writer, index, stopped = None, 0, None
    with ExitStack() as stack:  # unwinds in reverse: writer released before its temp file is renamed
        stack.callback(cap.release)
        bar = stack.enter_context(tqdm(total=max_frames or (reported if reported > 0 else None), desc="frames",
                                       unit="frame", leave=False))
        try:
            while max_frames is None or index < max_frames:
                try:
                    ok, frame = cap.read()
                except cv2.error as exc:
                    stopped = f"read error: {str(exc).strip().splitlines()[-1]}"
                    break
                if not ok or frame is None:
                    break
                if index % every == 0:
                    faces = smoother.update(recognizer.predict(frame, bgr=True))
                    for track_id, face in faces:
                        rows.append({"frame": index, "time_s": f"{index / fps:.3f}", "face_id": track_id, **face_row(face)})
                if out_video is not None or show:
                    annotated = draw_faces(frame, [f for _, f in faces])
                if out_video is not None:
                    if writer is None:
                        tmp = stack.enter_context(atomic_path(out_video))
                        size = (frame.shape[1], frame.shape[0])
                        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                        stack.callback(writer.release)
                    writer.write(annotated)
                index += 1
                bar.update()
                if show:
                    cv2.imshow("ferx", annotated)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
        except KeyboardInterrupt:  # keep what was recorded: the writer is released and renamed as the stack unwinds
            stopped = "interrupted"
        if index == 0:
            raise FerxError(f"{source}: no frames could be read" + (f" ({stopped})" if stopped else ""))
    if csv_path is not None:
        write_csv(csv_path, rows, ["frame", "time_s", "face_id"], recognizer.classes)
    return VideoResult(rows, index, stopped)
