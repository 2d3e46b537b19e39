"""Train / validation / test splits of FER-2013 or any labelled face folder: seeded, stratified, by subject if asked."""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from ..errors import FerxError
from ..model import CLASSES
from .fer2013 import Split, load_dataset, stratified_limit
from .folders import class_order, load_labelled_folder, scan_labelled_folder

log = logging.getLogger(__name__)


@dataclass
class LabelledSet:
    """Images with labels indexing `classes`, and the subject of each image (its path where no regex is given)."""

    split: Split
    classes: list[str]
    groups: np.ndarray


def is_fer2013(root: str | os.PathLike) -> bool:
    """FER-2013 as ferx has always read it: fer2013.csv, or train/ and test/ with exactly its seven class folders."""
    root = Path(root)
    if root.is_file():
        return root.suffix.lower() == ".csv"
    return all((root / s).is_dir() and sorted(p.name for p in (root / s).iterdir() if p.is_dir()) == sorted(CLASSES)
               for s in ("train", "test"))


def subject_groups(paths: list[Path], regex: str | None) -> np.ndarray:
    """The subject of each file: the regex's first group (or whole match) on its name; each file its own without one."""
    if regex is None:
        return np.array([str(p) for p in paths])
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise FerxError(f"--group-regex {regex!r}: not a regular expression ({exc})") from None
    groups = []
    for p in paths:
        m = pattern.search(p.name)
        if m is None:
            raise FerxError(f"{p}: file name does not match --group-regex {regex!r}")
        groups.append(m.group(1) if pattern.groups else m.group(0))
    return np.array(groups)


def load_labelled(root: str | os.PathLike, detect: str | None = None, group_regex: str | None = None) -> LabelledSet:
    """Every image of ROOT/<class>/ (faces cropped by the `detect` detector first, if named), cached."""
    images, labels, classes, found = load_labelled_folder(root, detector=detect)
    paths = [p for p, _ in scan_labelled_folder(root)]
    if len(paths) != len(labels):
        if group_regex:
            raise FerxError(f"{root}: {len(paths) - len(labels)} unreadable image(s); remove them to split by subject")
        paths = [Path(f"{root}/{i}") for i in range(len(labels))]
    if detect and not found.all():
        log.warning("%s: no face found in %d of %d images; the whole image is used for those", root,
                    int((~found).sum()), len(found))
    return LabelledSet(Split(images, labels), classes, subject_groups(paths, group_regex))


def holdout(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep, held-out) indices: a seeded, stratified `fraction` held out, no group on both sides."""
    if not 0 < fraction < 1:
        raise FerxError(f"held-out fraction {fraction:g}: must be between 0 and 1")
    if len(np.unique(groups)) == len(groups):  # one image per group: a plain stratified split
        strat = labels if np.bincount(labels).min() >= 2 else None
        keep, held = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=strat, random_state=seed)
        return np.sort(keep), np.sort(held)
    # K folds of which one is held out; fewer subjects than K: one subject is held out.
    return folds(labels, groups, max(2, min(round(1 / fraction), len(np.unique(groups)))), seed)[0]


def folds(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """K (train, test) index pairs: stratified, seeded, each group's images all in one test fold."""
    n_groups = len(np.unique(groups))
    if not 2 <= k <= n_groups:
        raise FerxError(f"{k} folds: need between 2 and the number of subjects ({n_groups})")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(te)) for tr, te in cv.split(np.zeros(len(labels)), labels, groups)]


def with_validation(train: Split, groups: np.ndarray, test: Split, val_fraction: float, seed: int,
                    limit: int | None = None) -> dict[str, Split]:
    """train / val / test, val a seeded stratified fraction of train (by subject where there are groups; none for 0)."""
    if val_fraction == 0:  # the final model of a recipe: every training image, no validation split
        train_idx, val_idx = np.arange(len(train)), np.arange(0)
    else:
        train_idx, val_idx = holdout(train.labels, groups, val_fraction, seed)
    splits = {"train": train.subset(train_idx), "val": train.subset(val_idx), "test": test}
    return {k: stratified_limit(v, limit, seed) for k, v in splits.items()}


def load_splits(data: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0, limit: int | None = None,
                test_fraction: float = 0.2, group_regex: str | None = None,
                detect: str | None = None) -> tuple[dict[str, Split], list[str]]:
    """(train/val/test splits, class names) of FER-2013 (unchanged path and cache) or any labelled folder."""
    root = Path(data)
    if not root.exists():
        raise FerxError(f"{root}: no such file or directory")
    if is_fer2013(root) and detect is None:
        return load_dataset(root, val_fraction, seed, limit), list(CLASSES)
    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test = (load_labelled(root / s, detect, group_regex) for s in ("train", "test"))
        classes = class_order(set(train.classes) | set(test.classes))
        missing = sorted(set(test.classes) - set(train.classes))
        if missing:
            unknown = sorted(set(train.classes) - set(test.classes))  # a misspelt folder shows up here
            also = f"; train has class folder(s) {unknown} that test lacks (misspelt?)" if unknown else ""
            raise FerxError(f"{root / 'test'}: class(es) {missing} have no training images in {root / 'train'}{also}")
        for part in (train, test):  # one label order for both splits
            part.split.labels = np.array([classes.index(part.classes[i]) for i in part.split.labels], dtype=np.int64)
        return with_validation(train.split, train.groups, test.split, val_fraction, seed, limit), classes
    whole = load_labelled(root, detect, group_regex)
    train_idx, test_idx = holdout(whole.split.labels, whole.groups, test_fraction, seed)
    log.info("%s: %d classes %s, %d images, test split %d%s", root, len(whole.classes), whole.classes,
             len(whole.split), len(test_idx), f" (by subject, {group_regex!r})" if group_regex else "")
    splits = with_validation(whole.split.subset(train_idx), whole.groups[train_idx], whole.split.subset(test_idx),
                             val_fraction, seed, limit)
    return splits, whole.classes
