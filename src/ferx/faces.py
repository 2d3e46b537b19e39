"""Face detection (OpenCV's bundled Haar cascade, offline) and FER-2013-style face crops."""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the original image
Detector = Callable[[np.ndarray], list[Box]]

# FER-2013 frames are about as tight as OpenCV's Haar box: on 300 FER-2013 test faces pasted at 144 px
# into a 640x480 scene, the median Haar box was 0.965 of the pasted frame (benchmarks/crop_margin.py).
CROP_MARGIN = 0.02


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, run on a downscaled copy; boxes in original pixels.

    Faces smaller than `min_face` pixels are not looked for: they hold too little for a 48x48 model, and
    searching at half scale makes detection ~4x faster. `max_side` caps the searched copy of very large images.
    """

    WINDOW = 24  # the cascade's own window size

    def __init__(self, max_side: int = 640, min_face: int = 48, scale_factor: float = 1.1, min_neighbors: int = 5):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"{path}: OpenCV could not load its Haar cascade")
        self.max_side, self.min_face = max_side, min_face
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.lock = threading.Lock()  # one CascadeClassifier must not run in two threads at once (HTTP service)

    def __call__(self, gray: np.ndarray) -> list[Box]:
        scale = min(1.0, self.WINDOW / self.min_face, self.max_side / max(gray.shape))
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        with self.lock:
            found = self.cascade.detectMultiScale(
                small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(self.WINDOW, self.WINDOW),
            )
        boxes = [tuple(int(round(v / scale)) for v in b) for b in found]
        return sorted(boxes, key=lambda b: (b[0], b[1]))


def crop_faces(gray: np.ndarray, boxes: Sequence[Box], margin: float = CROP_MARGIN, size: int = 48) -> np.ndarray:
    """(N, size, size) uint8 crops: each box grown by `margin` per side, squared, edge-padded, resized."""
    h, w = gray.shape
    crops = np.empty((len(boxes), size, size), np.uint8)
    for i, (x, y, bw, bh) in enumerate(boxes):
        side = max(bw, bh) * (1 + 2 * margin)
        cx, cy = x + bw / 2, y + bh / 2
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        x1, y1 = x0 + int(round(side)), y0 + int(round(side))
        pad = max(0, -x0, -y0, x1 - w, y1 - h)
        src = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
        face = src[y0 + pad : y1 + pad, x0 + pad : x1 + pad]
        crops[i] = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR)
    return crops
