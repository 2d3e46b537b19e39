"""OpenCV's bundled frontal-face Haar cascade (offline, no model file to ship)."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from .crop import Box


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, run on a downscaled copy; boxes in original pixels.

    Faces smaller than `min_face` pixels are not looked for: they hold too little for a 48x48 model, and
    searching at half scale makes detection ~4x faster. `max_side` caps the searched copy of very large images.
    """

    name = "haar"
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
        if gray.ndim == 3:
            gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.WINDOW / self.min_face, self.max_side / max(gray.shape))
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        with self.lock:
            found = self.cascade.detectMultiScale(
                small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(self.WINDOW, self.WINDOW),
            )
        boxes = [tuple(int(round(v / scale)) for v in b) for b in found]
        return sorted(boxes, key=lambda b: (b[0], b[1]))
