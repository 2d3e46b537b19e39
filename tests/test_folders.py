"""Any labelled image folder -> 48x48 faces: aliases, missing and extra classes, bad files, detection, cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferx.data.fer2013 import cache_file
from ferx.data.folders import canonical_class, load_labelled_folder, scan_labelled_folder
from ferx.errors import FerxError


def _image(path: Path, value: int, size=(64, 40)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((size[1], size[0], 3), value, np.uint8)
    a[:, : size[0] // 2] = 255 - value  # left half differs: crops show whether the whole image was kept
    Image.fromarray(a).save(path)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    root = tmp_path / "faces"
    _image(root / "Anger" / "a1.png", 10)
    _image(root / "Anger" / "sub" / "a2.jpg", 20)  # nested below a class folder
    _image(root / "happiness" / "h1.png", 30)
    _image(root / "HA" / "h2.bmp", 40)  # a second alias of the same class merges
    _image(root / "contempt" / "c1.png", 50)  # not a ferx class: kept under its own name
    _image(root / "su" / "s1.tiff", 60)
    (root / "su" / "notes.txt").write_text("not an image")  # ignored by suffix
    return root


def test_aliases_map_to_ferx_classes_and_unknown_names_stay():
    assert [canonical_class(n) for n in ("anger", "AN", "Disgusted", "fearful", "happiness", "ne", "sadness", "surprised")] == [
        "angry", "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"
    ]
    assert canonical_class("contempt") == "contempt"


def test_scan_lists_images_sorted_with_canonical_classes(labelled: Path):
    files = scan_labelled_folder(labelled)
    assert [(p.name, c) for p, c in files] == [
        ("a1.png", "angry"), ("a2.jpg", "angry"), ("h2.bmp", "happy"), ("c1.png", "contempt"),
        ("h1.png", "happy"), ("s1.tiff", "surprise"),
    ]


def test_load_whole_images_class_order_and_missing_classes(labelled: Path):
    images, labels, names, found = load_labelled_folder(labelled)
    # ferx classes present, in CLASSES order (no disgust/fear/neutral/sad), then the extra class
    assert names == ["angry", "happy", "surprise", "contempt"]
    assert images.shape == (6, 48, 48) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [0, 0, 1, 3, 1, 2]
    assert found.all()
    # the whole 64x40 image is the face: both halves (gray 245 and 10 for a1.png) appear in the crop
    assert images[0, 24, 5] > 200 and images[0, 24, 42] < 30


def test_detector_crops_largest_face_and_records_misses(labelled: Path):
    def detector(gray):  # a face box on the two brightest-left images (a1, a2), none on the others
        return [(0, 0, 8, 8), (0, 0, 24, 24)] if gray[0, 0] > 230 else []

    images, labels, names, found = load_labelled_folder(labelled, detector=detector)
    assert found.tolist() == [True, True, False, False, False, False]
    assert images[0].max() - images[0].min() < 10  # the larger 24x24 box, in the left half only
    whole, *_ = load_labelled_folder(labelled)
    assert np.array_equal(images[~found], whole[~found])  # a miss keeps the whole image


def test_cache_is_reused_and_keyed_by_content(labelled: Path):
    first = load_labelled_folder(labelled)
    cached = sorted(Path(__import__("os").environ["FERX_CACHE"]).glob("folder-*-whole-48.npz"))
    assert cached
    again = load_labelled_folder(labelled)
    assert all(np.array_equal(a, b) for a, b in zip(first[:2] + first[3:], again[:2] + again[3:])) and first[2] == again[2]
    _image(labelled / "sadness" / "x.png", 70)
    names = load_labelled_folder(labelled)[2]
    assert "sad" in names  # a changed folder is decoded again, not served from the old cache
    now = cache_file("folder", labelled, "-whole-48")
    assert sorted(now.parent.glob(now.name[:16] + "*-whole-48.npz")) == [now]  # the new cache replaced the stale one

    def no_faces(gray):
        return []

    no_faces.name = "none"
    load_labelled_folder(labelled, detector=no_faces)
    assert len(list(now.parent.glob(now.name[:16] + "*.npz"))) == 2  # another detector's cache: the whole one kept


def test_bad_input_names_the_problem(tmp_path: Path, labelled: Path):
    with pytest.raises(FerxError, match="no such folder"):
        scan_labelled_folder(tmp_path / "missing")
    (tmp_path / "empty" / "happy").mkdir(parents=True)
    with pytest.raises(FerxError, match="no images"):
        scan_labelled_folder(tmp_path / "empty")
    (labelled / "Anger" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FerxError, match="broken.jpg"):
        load_labelled_folder(labelled, use_cache=False)
