"""CenterFace with a second opinion: CenterFace (on the photo at its own size, 320-640 px; int8 above 384 px) proposes
faces down to a low score, and MTCNN's O-Net, a 48-px face / non-face net, must confirm each one CenterFace alone is
unsure of.

Both networks ship with ferx (models/NOTICE.md). The default detector since 2026-12-06: measured on
benchmarks/detectors.py, benchmarks/inference.py and benchmarks/compare_fer.py (README, "Faces in photos";
docs/experiments/detectors/checked-rule.txt, revision 11).
"""
from __future__ import annotations

import numpy as np

from .centerface import CenterFaceDetector
from .crop import overlap
from .mtcnn import MTCNNDetector


class CheckedCenterFaceDetector(CenterFaceDetector):
    """Keeps CenterFace's faces scored >= `sure` as they are, and those scored `threshold` to `sure` when O-Net gives
    them a face probability >= `confirm`. Searches the photo at its own size kept within `min_side`-`max_side` px (a
    640x480 photo at full size, where the default CenterFace halves it; a small photo upscaled only as much as the
    default does, since CenterFace draws tighter boxes on an upscaled face), with the float network where that copy
    is at most `float_up_to` px long; boxes in the original's pixels.
    """

    name = "centerface-checked"

    def __init__(self, min_side: int = 320, max_side: int = 640, threshold: float = 0.05, sure: float = 0.3,
                 confirm: float = 0.5, int8: bool = True, fraction: float = 1.0, float_up_to: int = 384,
                 **kwargs) -> None:
        super().__init__(min_side=min_side, max_side=max_side, threshold=threshold, int8=int8, fraction=fraction,
                         **kwargs)
        self.sure, self.confirm = sure, confirm
        self.checker = MTCNNDetector()
        # int8 draws slightly different boxes (2 points less on wild_dev's photo path); a copy up to `float_up_to` px
        # is cheap enough to search with the float network, so the int8 one pays only where it saves time
        self.float_up_to = float_up_to if int8 else 0
        self.float_session = self._load(False) if self.float_up_to else None

    def _network(self, width: int, height: int):
        return self.float_session if max(width, height) <= self.float_up_to else self.session

    def _search(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        boxes, scores, points = super()._search(image)
        keep = scores >= self.sure
        unsure = np.flatnonzero(~keep)
        confirmed = unsure[self.checker.face_scores(image, boxes[unsure]) >= self.confirm]
        for i in confirmed[np.argsort(-scores[confirmed])]:
            # O-Net also confirms a patch of a face (an eye and a brow) that sticks out of it, which the clean-up's
            # nesting rule (60% inside) lets through (seen: 45-53% of such a patch on the face): an unsure box goes
            # when a quarter of it lies on a kept face
            covered = max((overlap(boxes[i], b) for b in boxes[keep]), default=0.0)
            keep[i] = covered < 0.25 * boxes[i, 2] * boxes[i, 3]
        return boxes[keep], scores[keep], points[keep]
