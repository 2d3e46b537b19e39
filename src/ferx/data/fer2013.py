"""Load FER-2013 (image-folder layout or the original fer2013.csv) into cached uint8 arrays."""
from __future__ import annotations

import csv
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.model_selection import train_test_split

from ..errors import FerxError
from ..files import IMAGE_SUFFIXES, atomic_path
from ..model import CLASSES

log = logging.getLogger(__name__)

IMAGE_SIZE = 48
# fer2013.csv codes: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral -> CLASSES index
CSV_TO_CLASS = np.array([0, 1, 2, 3, 5, 6, 4])
CSV_COLUMNS = ("emotion", "pixels", "Usage")
# More unreadable images than this fraction of a split is an error, not a few bad files to skip.
MAX_BAD_FRACTION = 0.01


@dataclass
class Split:
    """Images (N, 48, 48) uint8 and labels (N,) int64 indexing CLASSES."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> "Split":
        return Split(self.images[idx], self.labels[idx])


def cache_dir() -> Path:
    """Where decoded arrays are cached: $FERX_CACHE, else ~/.cache/ferx."""
    return Path(os.environ.get("FERX_CACHE", Path.home() / ".cache" / "ferx"))


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        img = img.convert("L")
        if img.size != (IMAGE_SIZE, IMAGE_SIZE):
            img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _list_folder_split(split_dir: Path) -> list[tuple[Path, int]]:
    if not split_dir.is_dir():
        raise FerxError(f"{split_dir}: missing split folder (expected {split_dir}/<class>/*.jpg)")
    found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    unknown = [name for name in found if name not in CLASSES]
    if unknown:
        raise FerxError(f"{split_dir}: unknown class folder(s) {unknown}; expected {list(CLASSES)}")
    files = []
    for label, name in enumerate(CLASSES):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            raise FerxError(f"{class_dir}: missing class folder")
        images = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise FerxError(f"{class_dir}: class folder has no images")
        files += [(p, label) for p in images]
    return files


def load_folder_split(split_dir: Path) -> Split:
    """Decode every image of ROOT/<split>/<class>/ once; a few unreadable files are skipped with a count."""
    files = _list_folder_split(split_dir)
    images, labels, bad = [], [], []
    for path, label in files:
        try:
            images.append(_decode(path))
            labels.append(label)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            bad.append((path, exc))
    if bad:
        first, exc = bad[0]
        if len(bad) > MAX_BAD_FRACTION * len(files):
            reason = "empty file" if first.stat().st_size == 0 else f"unreadable image ({exc.__class__.__name__})"
            raise FerxError(f"{first}: {reason} ({len(bad)} of {len(files)} images in {split_dir} unreadable)")
        log.warning("skipped %d unreadable image(s) of %d in %s, first: %s", len(bad), len(files), split_dir, first)
    return Split(np.stack(images), np.array(labels, dtype=np.int64))


def load_csv(path: Path) -> dict[str, Split]:
    """Read fer2013.csv into train (Training) and test (PublicTest + PrivateTest), labels remapped."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not set(CSV_COLUMNS) <= set(reader.fieldnames):
            raise FerxError(f"{path}: expected columns {','.join(CSV_COLUMNS)}, found {reader.fieldnames}")
        rows = {"train": ([], []), "test": ([], [])}
        for line, row in enumerate(reader, start=2):
            split = "train" if row["Usage"] == "Training" else "test" if row["Usage"] in ("PublicTest", "PrivateTest") else None
            if split is None:
                raise FerxError(f"{path}:{line}: unknown Usage {row['Usage']!r}")
            try:
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                code = int(row["emotion"])
            except ValueError as exc:
                raise FerxError(f"{path}:{line}: bad emotion or pixel value ({exc})") from None
            if pixels.size != IMAGE_SIZE * IMAGE_SIZE:
                raise FerxError(f"{path}:{line}: {pixels.size} pixel values, expected {IMAGE_SIZE * IMAGE_SIZE}")
            if not 0 <= code < len(CSV_TO_CLASS):
                raise FerxError(f"{path}:{line}: emotion code {code} outside 0-6")
            rows[split][0].append(pixels.reshape(IMAGE_SIZE, IMAGE_SIZE))
            rows[split][1].append(CSV_TO_CLASS[code])
    for split, (images, _) in rows.items():
        if not images:
            raise FerxError(f"{path}: no {split} rows")
    return {s: Split(np.stack(im), np.array(lb, dtype=np.int64)) for s, (im, lb) in rows.items()}


def _fingerprint(root: Path) -> str:
    """A key that changes when any file under root changes name, size or mtime."""
    h = hashlib.sha1(str(root.resolve()).encode())
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in paths:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def cache_file(kind: str, root: Path, tail: str = "") -> Path:
    """<kind>-<which copy>-<its files' state><tail>.npz in cache_dir(): a copy's caches differ only in the state."""
    copy = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:8]
    return cache_dir() / f"{kind}-{copy}-{_fingerprint(root)}{tail}.npz"


def drop_stale(cache: Path) -> None:
    """Delete the caches of the same copy (and tail) made before its files changed: each would hold a stale copy."""
    kind, copy, state = cache.stem.split("-", 3)[:3]
    for old in cache.parent.glob(f"{kind}-{copy}-{'?' * len(state)}{cache.name[len(f'{kind}-{copy}-{state}'):]}"):
        if old != cache:
            old.unlink(missing_ok=True)


def load_train_test(root: str | os.PathLike, use_cache: bool = True) -> dict[str, Split]:
    """Train and test splits of a FER-2013 copy (folder or CSV), decoded once and cached as .npz."""
    root = Path(root)
    if not root.exists():
        raise FerxError(f"{root}: no such file or directory")
    cache = cache_file("fer", root)
    if use_cache and cache.exists():
        with np.load(cache) as z:
            return {s: Split(z[f"{s}_images"], z[f"{s}_labels"]) for s in ("train", "test")}
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise FerxError(f"{root}: expected a folder with train/ and test/ or a fer2013.csv file")
        splits = load_csv(root)
    else:
        splits = {s: load_folder_split(root / s) for s in ("train", "test")}
    if use_cache:
        arrays = {f"{s}_{k}": getattr(sp, k) for s, sp in splits.items() for k in ("images", "labels")}
        with atomic_path(cache) as tmp:  # per-process temp name: two runs started together both write the cache
            np.savez(tmp, **arrays)
        log.info("cached decoded images in %s", cache)
        drop_stale(cache)
    return splits


def stratified_split(labels: np.ndarray, seed: int, what: str, **sizes) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified (first, second) index split (`train_size=` or `test_size=`); where the sizes leave a
    class without an image on one side, a one-line FerxError naming `what` (the option that set them)."""
    try:
        return train_test_split(np.arange(len(labels)), stratify=labels, random_state=seed, **sizes)
    except ValueError as exc:  # scikit-learn: a side smaller than the number of classes, or a class of one image
        raise FerxError(f"{what}: too few images for a stratified split ({exc})") from None


def stratified_limit(split: Split, limit: int | None, seed: int) -> Split:
    """At most `limit` images of a split, class proportions kept."""
    if limit is None or limit >= len(split):
        return split
    idx, _ = stratified_split(split.labels, seed, f"--limit {limit}", train_size=limit)
    return split.subset(np.sort(idx))


def load_dataset(
    root: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0, limit: int | None = None
) -> dict[str, Split]:
    """train / val (stratified, seeded fraction of train; empty for 0) / test splits; `limit` caps each for quick runs."""
    return split_dataset(load_train_test(root), val_fraction, seed, limit)


def split_dataset(splits: dict[str, Split], val_fraction: float = 0.1, seed: int = 0,
                  limit: int | None = None) -> dict[str, Split]:
    """load_dataset's splits of FER-2013's train and test splits already in memory."""
    train = stratified_limit(splits["train"], limit, seed)
    what = f"--val-fraction {val_fraction:g}" + (f" of --limit {limit}" if limit is not None else "")
    if val_fraction == 0:  # the final model of a recipe: every training image, no validation split
        tr_idx, val_idx = np.arange(len(train)), np.arange(0)
    else:
        tr_idx, val_idx = stratified_split(train.labels, seed, what, test_size=val_fraction)
    return {
        "train": train.subset(np.sort(tr_idx)),
        "val": train.subset(np.sort(val_idx)),
        "test": stratified_limit(splits["test"], limit, seed),
    }
