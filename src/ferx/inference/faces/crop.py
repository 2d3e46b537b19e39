"""Face boxes and FER-2013-style face crops: the contract every detector meets."""
from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

from ...errors import FerxError

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the original image
Detector = Callable[[np.ndarray], list[Box]]

# FER-2013 frames are about as tight as OpenCV's Haar box: on 300 FER-2013 test faces pasted at 144 px
# into a 640x480 scene, the median Haar box was 0.965 of the pasted frame (benchmarks/crop_margin.py).
CROP_MARGIN = 0.02


def overlap(a: Box, b: Box) -> float:
    """Area of the intersection of two boxes."""
    return max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])) * max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = overlap(a, b)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def clip_box(box: Box, w: int, h: int) -> Box:
    """The part of `box` inside a w x h image."""
    x0, y0 = max(0, box[0]), max(0, box[1])
    return (x0, y0, min(w, box[0] + box[2]) - x0, min(h, box[1] + box[3]) - y0)


def not_nested(boxes: Sequence[Box]) -> list[int]:
    """Indices of the boxes not lying >= 60% inside a larger one: faces do not nest, a nested box is an eye or a mouth."""
    return [i for i, a in enumerate(boxes)
            if not any(b[2] * b[3] > a[2] * a[3] and overlap(a, b) >= 0.6 * a[2] * a[3] for b in boxes)]


def search_or_border(search: Callable[[np.ndarray], tuple], image: np.ndarray, pad: float) -> tuple[tuple, int]:
    """`search(image)`, whose first item is the boxes; where it finds none, the same on the image with a replicated
    border of `pad` times its long side. Returns the result and the border's width (0 without a second search)."""
    found = search(image)
    if len(found[0]) or not pad:
        return found, 0
    # a face that fills the frame (a tight crop) is found once the image has a border around it
    p = int(round(pad * max(image.shape[:2])))
    return search(cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_REPLICATE)), p


def face_boxes(boxes: np.ndarray, w: int, h: int) -> tuple[list[Box], list[int]]:
    """Float (x, y, w, h) rows as int boxes inside a w x h image, less nested and tiny (< 4 px) ones; and the rows kept."""
    out = [clip_box(tuple(int(round(v)) for v in b), w, h) for b in boxes]
    keep = [i for i in not_nested(out) if out[i][2] >= 4 and out[i][3] >= 4]
    return [out[i] for i in keep], keep


def check_boxes(boxes: Sequence[Sequence[float]], shape: tuple[int, ...]) -> list[Box]:
    """User-given boxes as int (x, y, w, h); a FerxError for one of no size, off the image or over twice its size."""
    h, w = shape[:2]
    out = []
    for box in boxes:
        try:
            x, y, bw, bh = (int(v) for v in box)
        except (TypeError, ValueError):
            raise FerxError(f"box {box!r}: expected four numbers (x, y, w, h)") from None
        if bw < 1 or bh < 1:
            raise FerxError(f"box {(x, y, bw, bh)}: width and height must be at least 1 pixel")
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise FerxError(f"box {(x, y, bw, bh)}: outside the {w}x{h} image")
        if max(bw, bh) > 2 * max(w, h):
            raise FerxError(f"box {(x, y, bw, bh)}: more than twice the size of the {w}x{h} image")
        out.append((x, y, bw, bh))
    return out


def crop_faces(gray: np.ndarray, boxes: Sequence[Box], margin: float = CROP_MARGIN, size: int = 48) -> np.ndarray:
    """(N, size, size) uint8 crops: each box grown by `margin` per side, squared, edge-padded, resized."""
    h, w = gray.shape
    crops = np.empty((len(boxes), size, size), np.uint8)
    for i, (x, y, bw, bh) in enumerate(boxes):
        side = max(bw, bh) * (1 + 2 * margin)
        cx, cy = x + bw / 2, y + bh / 2
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        x1, y1 = x0 + int(round(side)), y0 + int(round(side))
        # Pad only the part of the image under the square, on the sides it overhangs (never the whole image).
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        face = cv2.copyMakeBorder(gray[ya:yb, xa:xb], ya - y0, y1 - yb, xa - x0, x1 - xb, cv2.BORDER_REPLICATE)
        crops[i] = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR)
    return crops
