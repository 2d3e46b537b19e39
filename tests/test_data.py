import csv
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest

from ferx.data import fer2013
from ferx.data.fer2013 import CSV_TO_CLASS, load_dataset, load_train_test
from ferx.model import CLASSES

FER_CSV_NAMES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]


def write_fer_csv(folder_root: Path, path: Path) -> None:
    """A fer2013.csv in the original format (its own emotion codes) from an image-folder copy."""
    splits = load_train_test(folder_root, use_cache=False)
    to_csv_code = {CLASSES.index(name.lower()): code for code, name in enumerate(FER_CSV_NAMES)}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for split, usage in (("train", "Training"), ("test", "PublicTest")):
            for img, label in zip(splits[split].images, splits[split].labels):
                w.writerow([to_csv_code[int(label)], " ".join(map(str, img.ravel())), usage])


def test_csv_codes_map_to_folder_order() -> None:
    # fer2013.csv: 0 Angry 1 Disgust 2 Fear 3 Happy 4 Sad 5 Surprise 6 Neutral
    assert [CLASSES[i] for i in CSV_TO_CLASS] == [n.lower() for n in FER_CSV_NAMES]


def test_csv_and_folder_layouts_agree(small_dataset: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "fer2013.csv"
    write_fer_csv(small_dataset, csv_path)
    rows = list(csv.DictReader(open(csv_path)))
    sad = [r for r in rows if r["emotion"] == "4"]
    assert len(sad) == 24  # 12 train + 12 test images from the sad/ folders carry CSV code 4
    from_folder = load_train_test(small_dataset)
    from_csv = load_train_test(csv_path)
    for split in ("train", "test"):
        np.testing.assert_array_equal(from_csv[split].images, from_folder[split].images)
        np.testing.assert_array_equal(from_csv[split].labels, from_folder[split].labels)
    assert np.bincount(from_csv["train"].labels).tolist() == [12] * 7


def test_real_split_sizes_and_stratification(fer_root: Path) -> None:
    d = load_dataset(fer_root, val_fraction=0.1, seed=0)
    assert (len(d["train"]), len(d["val"]), len(d["test"])) == (25_838, 2_871, 7_178)
    assert d["train"].images.shape[1:] == (48, 48) and d["train"].images.dtype == np.uint8
    full = np.bincount(np.concatenate([d["train"].labels, d["val"].labels]))
    assert full.tolist() == [3995, 436, 4097, 7215, 4965, 4830, 3171]
    val = np.bincount(d["val"].labels)
    assert np.all(np.abs(val - 0.1 * full) <= 1)  # stratified: every class within one image of 10%
    assert np.bincount(d["test"].labels).tolist() == [958, 111, 1024, 1774, 1233, 1247, 831]


def test_split_is_seeded(fer_root: Path) -> None:
    a, b, c = (load_dataset(fer_root, seed=s, limit=2000) for s in (0, 0, 1))
    np.testing.assert_array_equal(a["val"].images, b["val"].images)
    assert not np.array_equal(a["val"].images, c["val"].images)


def test_cache_is_reused(small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERX_CACHE", str(tmp_path / "cache"))
    decoded = []
    decode = fer2013._decode
    monkeypatch.setattr(fer2013, "_decode", lambda path: decoded.append(path) or decode(path))
    first = load_train_test(small_dataset)
    assert len(decoded) == 2 * 7 * 12
    cached = list((tmp_path / "cache").glob("fer-*.npz"))
    assert len(cached) == 1
    decoded.clear()
    np.testing.assert_array_equal(load_train_test(small_dataset)["train"].images, first["train"].images)
    assert decoded == []  # the second load decoded no image
    (small_dataset / "train" / "happy" / sorted((small_dataset / "train" / "happy").iterdir())[0].name).unlink()
    assert len(load_train_test(small_dataset)["train"]) == 7 * 12 - 1  # a changed folder is decoded afresh
    assert len(decoded) >= 7 * 12 - 1
    assert list((tmp_path / "cache").glob("fer-*.npz")) == [fer2013.cache_file("fer", small_dataset)]  # the stale one gone
    shutil.copytree(small_dataset, tmp_path / "copy")
    load_train_test(tmp_path / "copy")
    assert len(list((tmp_path / "cache").glob("fer-*.npz"))) == 2  # another copy's cache is not this one's stale one


def test_two_runs_caching_at_once_both_succeed(small_dataset: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two trainings started together both decode and cache the data; the second rename must not fail."""
    monkeypatch.setenv("FERX_CACHE", str(tmp_path / "cache"))
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2, timeout=60)
    savez = np.savez

    def savez_then_wait(*args, **kwargs) -> None:
        savez(*args, **kwargs)
        barrier.wait()  # both temporary files are written before either is renamed

    monkeypatch.setattr(fer2013.np, "savez", savez_then_wait)
    procs = [ctx.Process(target=load_train_test, args=(small_dataset,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert [f.name for f in (tmp_path / "cache").iterdir()] == [fer2013.cache_file("fer", small_dataset).name]
