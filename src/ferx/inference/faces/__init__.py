"""Face detectors and face crops: a name -> detector table, each detector imported only when chosen."""
from __future__ import annotations

import importlib
from typing import Callable

from ...errors import FerxError

# name -> (module, class); the module is imported only when that detector is built.
DETECTORS: dict[str, tuple[str, str]] = {
    "haar": ("haar", "HaarDetector"),
    "ssd": ("ssd", "SSDDetector"),
    "blazeface": ("blazeface", "BlazeFaceDetector"),
    "centerface": ("centerface", "CenterFaceDetector"),
    "centerface-int8": ("centerface", "CenterFaceInt8Detector"),
    "mtcnn": ("mtcnn", "MTCNNDetector"),
    "centerface-checked": ("checked", "CheckedCenterFaceDetector"),
}
# benchmarks/detectors.py and docs/experiments/detectors/checked-rule.txt (revision 11): no crossdata misses, 0.96-0.97
# of the pasted FER-2013 faces of 40-200 px, a 640x480 photo in 13-15 ms end to end here
DEFAULT_DETECTOR = "centerface-checked"


def get_detector(detector: str | Callable | None):
    """A detector from its name, a callable (gray image -> boxes) as it is, or None (no detection)."""
    if detector is None or callable(detector):
        return detector
    if not isinstance(detector, str) or detector not in DETECTORS:
        raise FerxError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)} or pass a callable")
    module, cls = DETECTORS[detector]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
