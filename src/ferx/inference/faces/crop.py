"""Face boxes and FER-2013-style face crops: the contract every detector meets."""
from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the original image
Detector = Callable[[np.ndarray], list[Box]]

# FER-2013 frames are about as tight as OpenCV's Haar box: on 300 FER-2013 test faces pasted at 144 px
# into a 640x480 scene, the median Haar box was 0.965 of the pasted frame (benchmarks/crop_margin.py).
CROP_MARGIN = 0.02


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
