"""Shared fixtures: the real FER-2013 copy in ../shared and small datasets built from it at run time."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time
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


def cannot_run(reason: str, allow: str | None = None, require: str | None = None) -> None:
    """A test that cannot run here: an error (CI passes only when everything ran), a skip only where allowed.

    `allow`: env var that turns the error into a skip (e.g. FERX_ALLOW_NO_DATA=1 on a machine without the data);
    `require`: env var that turns a default skip into an error (e.g. FERX_REQUIRE_BROWSER=1, set by .ci/run).
    """
    if require is not None:
        if os.environ.get(require) == "1":
            pytest.fail(f"{reason} ({require}=1: this run must not skip it)", pytrace=False)
        pytest.skip(reason)
    if allow is not None and os.environ.get(allow) == "1":
        pytest.skip(f"{reason} ({allow}=1)")
    pytest.fail(f"{reason}; set {allow}=1 to skip the tests that need it", pytrace=False)


def require_fer(root: Path) -> Path:
    if not (root / "train").is_dir():
        cannot_run(f"FER-2013 not found at {root}", allow="FERX_ALLOW_NO_DATA")
    return root


@pytest.fixture(scope="session")
def fer_root() -> Path:
    return require_fer(FER_ROOT)


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


def history(out: Path) -> list[dict]:
    """A run's history.csv rows without the timing column (which differs between otherwise equal runs)."""
    rows = list(csv.DictReader(open(out / "history.csv")))
    for r in rows:
        r.pop("seconds")
    return rows


def start_until_first_epoch(cmd: list[str], out: Path, timeout: float) -> subprocess.Popen:
    """Start a training command in a session of its own; return once OUT/history.csv has an epoch (still running)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if (out / "history.csv").exists() and len(history(out)) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    return proc
