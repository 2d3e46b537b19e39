"""Any labelled image folder `ROOT/<class>/**/*` as 48x48 faces: class aliases, optional detection, cache.

API (kept stable; training on any folder builds on it):
- `CLASS_ALIASES`: lower-case folder name -> ferx class (anger/angry/an -> angry, happiness/ha -> happy, ...).
- `canonical_class(name) -> str`: the ferx class of a folder name; names with no alias (e.g. contempt) stay as they are.
- `scan_labelled_folder(root) -> list[(path, class)]`: every image under each class folder, sorted.
- `load_labelled_folder(root, detector=None, size=48) -> (images, labels, class_names, found)`:
  images (N, size, size) uint8, labels (N,) int64 indexing class_names, class_names (ferx classes in
  CLASSES order, then extra classes sorted; only classes present), found (N,) bool. Without a detector
  the whole image is the face (found all True); with one (a name or a callable gray -> boxes) the largest
  detected face is cropped, and a miss keeps the whole image with found False so the caller decides.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import FerxError
from ..files import IMAGE_SUFFIXES, atomic_path
from ..model import CLASSES
from .fer2013 import MAX_BAD_FRACTION, cache_file, drop_stale

log = logging.getLogger(__name__)

_ALIASES = {
    "angry": ("anger", "angry", "an"),
    "disgust": ("disgusted", "disgust", "di"),
    "fear": ("fearful", "fear", "fe", "afraid", "scared"),
    "happy": ("happiness", "happy", "ha", "joy"),
    "neutral": ("neutral", "ne", "calm"),
    "sad": ("sadness", "sad", "sa"),
    "surprise": ("surprised", "surprise", "su"),
}
CLASS_ALIASES: dict[str, str] = {alias: cls for cls, names in _ALIASES.items() for alias in names}


def canonical_class(name: str) -> str:
    """The ferx class a folder name stands for (case-insensitive); unknown names are returned unchanged."""
    return CLASS_ALIASES.get(name.strip().lower(), name)


def scan_labelled_folder(root: str | os.PathLike) -> list[tuple[Path, str]]:
    """(image path, canonical class) for every image file under ROOT/<class>/, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise FerxError(f"{root}: no such folder (expected {root}/<class>/<images>)")
    files = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        cls = canonical_class(class_dir.name)
        files += [(p, cls) for p in class_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise FerxError(f"{root}: no images in class folders (expected {root}/<class>/<images>)")
    return sorted(files)


def class_order(names: set[str] | list[str]) -> list[str]:
    """ferx classes in CLASSES order, then any other class names sorted."""
    names = set(names)
    return [c for c in CLASSES if c in names] + sorted(names - set(CLASSES))


def _detector_key(detector: Callable | None) -> str | None:
    """A cache key: the detector's name and its settings; None for a callable with no `name` (not cached)."""
    if detector is None:
        return "whole"
    name = getattr(detector, "name", None)
    if name is None:
        return None
    settings = sorted((k, v) for k, v in vars(detector).items() if isinstance(v, (int, float, str, bool)))
    return f"{name}-{hashlib.sha1(repr(settings).encode()).hexdigest()[:8]}"


def _largest(boxes) -> tuple[int, int, int, int]:
    return max(boxes, key=lambda b: b[2] * b[3])


def _decode_all(files, detector, size: int):
    # Decoding and cropping are the inference path's own, so a folder's faces equal the product's crops.
    from ..inference.faces.crop import crop_faces
    from ..inference.images import to_gray

    images, keep, found, bad = [], [], [], []
    for i, (path, _) in enumerate(files):
        try:
            gray = to_gray(path)
        except FerxError as exc:
            bad.append((path, exc))
            continue
        boxes = list(detector(gray)) if detector is not None else []
        hit = bool(boxes) or detector is None
        box = _largest(boxes) if boxes else (0, 0, gray.shape[1], gray.shape[0])
        images.append(crop_faces(gray, [box], size=size)[0])
        keep.append(i)
        found.append(hit)
    if bad:
        first, exc = bad[0]
        if len(bad) > MAX_BAD_FRACTION * len(files):
            raise FerxError(f"{exc} ({len(bad)} of {len(files)} images unreadable)")
        log.warning("skipped %d unreadable image(s) of %d, first: %s", len(bad), len(files), first)
    return np.stack(images), np.array(keep), np.array(found, dtype=bool)


def load_labelled_folder(
    root: str | os.PathLike, detector: str | Callable | None = None, size: int = 48, use_cache: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(images (N,size,size) uint8, labels (N,) int64, class_names, found (N,) bool) of a labelled folder.

    Decoded once and cached under cache_dir(), keyed by the folder's content and the detector's name.
    """
    root = Path(root)
    if isinstance(detector, str):
        from ..inference.faces import get_detector

        detector = get_detector(detector)
    files = scan_labelled_folder(root)
    key = _detector_key(detector)
    cache = cache_file("folder", root, f"-{key}-{size}") if key else None
    if use_cache and cache is not None and cache.exists():
        with np.load(cache) as z:
            return z["images"], z["labels"], [str(c) for c in z["class_names"]], z["found"]
    images, keep, found = _decode_all(files, detector, size)
    class_names = class_order({files[i][1] for i in keep})
    labels = np.array([class_names.index(files[i][1]) for i in keep], dtype=np.int64)
    if use_cache and cache is not None:
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, labels=labels, class_names=np.array(class_names), found=found)
        drop_stale(cache)
    return images, labels, class_names, found
