"""Shared fixtures: the real FER-2013 copy in ../shared and small datasets built from it at run time."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ferx.model import CLASSES

FER_ROOT = Path(__file__).resolve().parents[2] / "shared" / "fer2013"


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Decoded-array cache in a session temp dir: the real data set is decoded once per run, nothing left in ~."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FERX_CACHE", str(tmp_path_factory.mktemp("ferx-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def fer_root() -> Path:
    if not (FER_ROOT / "train").is_dir():
        pytest.skip(f"FER-2013 not found at {FER_ROOT}")
    return FER_ROOT


def make_folder_dataset(src: Path, dst: Path, per_class: int) -> Path:
    """Copy the first `per_class` images of each class and split from `src` into the same layout at `dst`."""
    for split in ("train", "test"):
        for name in CLASSES:
            (dst / split / name).mkdir(parents=True)
            for f in sorted((src / split / name).iterdir())[:per_class]:
                shutil.copy(f, dst / split / name / f.name)
    return dst


@pytest.fixture
def small_dataset(fer_root: Path, tmp_path: Path) -> Path:
    return make_folder_dataset(fer_root, tmp_path / "fer_small", per_class=12)
