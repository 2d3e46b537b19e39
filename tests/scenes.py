"""Test scenes: real FER-2013 test faces pasted at known places and sizes into larger backgrounds."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ferx.data.fer2013 import load_train_test
from ferx.inference.faces import DEFAULT_DETECTOR, get_detector
from ferx.inference.faces.haar import HaarDetector

Box = tuple[int, int, int, int]


def background(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with mild noise: no face-like structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([60 + 100 * xx / w, 90 + 60 * yy / h, 150 - 50 * xx / w], -1)
    return np.clip(base + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)


def paste(scene: np.ndarray, face48: np.ndarray, x: int, y: int, size: int) -> Box:
    face = cv2.resize(face48, (size, size), interpolation=cv2.INTER_CUBIC)
    scene[y : y + size, x : x + size] = face[..., None]
    return (x, y, size, size)


@lru_cache(maxsize=1)
def detectable_faces(root: str, count: int = 6) -> tuple[np.ndarray, ...]:
    """The first `count` test faces (fixed order) that the Haar and the default detector each find alone in a plain scene."""
    test = load_train_test(Path(root))["test"]
    haar, default, found = HaarDetector(), get_detector(DEFAULT_DETECTOR), []
    for i in range(0, len(test), 37):
        scene = background(360, 480)
        paste(scene, test.images[i], 150, 80, 160)
        gray = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY)
        if len(haar(gray)) == 1 and len(default(gray)) == 1:
            found.append(test.images[i])
        if len(found) == count:
            break
    return tuple(found)

