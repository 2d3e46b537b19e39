"""Draw faces on an image: box, label and a small bar per class (OpenCV)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..errors import FerxError
from ..files import atomic_path
from ..model import CLASSES

# One BGR colour per class, in CLASSES order; other class names (a fine-tuned model's) take the rest in turn.
COLORS = [(60, 60, 230), (60, 160, 60), (160, 60, 160), (40, 200, 250), (190, 190, 190), (200, 120, 40), (230, 200, 40)]


def class_color(names: Sequence[str], i: int) -> tuple[int, int, int]:
    """The colour of class `names[i]`: its FER-2013 colour where it is one of those classes."""
    name = names[i]
    return COLORS[CLASSES.index(name)] if name in CLASSES else COLORS[i % len(COLORS)]


def draw_faces(bgr: np.ndarray, faces: Sequence) -> np.ndarray:
    """A copy of a BGR image with each face's box, top emotion and probability bars drawn."""
    out = bgr.copy()
    scale = max(out.shape[:2]) / 640
    thick = max(1, int(round(2 * scale)))
    font = 0.5 * max(scale, 0.6)
    for face in faces:
        x, y, w, h = face.box
        names = list(face.scores)
        color = class_color(names, names.index(face.emotion))
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thick)
        label = f"{face.emotion} {face.scores[face.emotion]:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        ty = y - 4 if y - th - 8 > 0 else y + h + th + 4
        cv2.rectangle(out, (x, ty - th - 4), (x + tw + 4, ty + 2), color, -1)
        cv2.putText(out, label, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thick, cv2.LINE_AA)
        bar_h = max(3, h // 14)
        bx = x + w + 4 if x + w + 4 + w // 2 < out.shape[1] else max(0, x - w // 2 - 4)
        for i, name in enumerate(names):
            by = y + i * (bar_h + 2)
            cv2.rectangle(out, (bx, by), (bx + int(face.scores[name] * w / 2), by + bar_h), class_color(names, i), -1)
    return out


def writable_path(path: Path) -> Path:
    """`path`, or `path` + ".png" where OpenCV has no writer for its suffix (e.g. .gif)."""
    return path if cv2.haveImageWriter(str(path)) else path.with_name(path.name + ".png")


def write_image(path: Path, bgr: np.ndarray) -> Path:
    """Write an image atomically (temporary name, then rename), as PNG where OpenCV cannot write the suffix."""
    path = writable_path(path)
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(tmp.suffix, bgr)
        if not ok:
            raise FerxError(f"{path}: OpenCV could not encode the annotated image")
        tmp.write_bytes(buf.tobytes())
    return path
