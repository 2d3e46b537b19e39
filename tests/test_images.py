"""Image reading: the pixel limit read from the header, transparency, one set of image suffixes."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from ferx.data import fer2013, folders
from ferx.errors import FerxError, ImageTooLarge
from ferx.files import IMAGE_SUFFIXES
from ferx.inference import images
from ferx.inference.images import find_images, load_rgb, rgb_from_bytes, to_gray
from ferx.inference.recognizer import EmotionRecognizer
from ferx.model import CLASSES

from hostile import luma, on_white, png_bomb, source


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any pixel decoding fails the test: what is refused must be refused from the header alone."""
    def load(self):
        raise AssertionError(f"{self.size} pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_bomb_refused_from_its_header_without_decoding(tmp_path: Path, no_decoding) -> None:
    data = png_bomb(13000, 13000)
    assert len(data) < 100_000  # tens of kB on disk, 169 million pixels decoded
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    for read in (to_gray, load_rgb):
        with pytest.raises(ImageTooLarge, match=rf"^{path}: 13000x13000 image \(169,000,000 pixels\) is over the limit "
                                                 r"of 40,000,000 pixels"):
            read(path)
    with pytest.raises(ImageTooLarge, match=r"^upload: 13000x13000"):
        rgb_from_bytes(data)
    with pytest.raises(ImageTooLarge, match=r"^image: 13000x13000"):
        to_gray(Image.open(io.BytesIO(data)))  # a lazily opened PIL image is checked before it is decoded


def test_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(source()).save(path)  # 48 x 40 = 1920 pixels
    assert to_gray(path, max_pixels=1920).shape == (40, 48)
    assert to_gray(path, max_pixels=None).shape == (40, 48)
    with pytest.raises(ImageTooLarge, match="48x40 image .1,920 pixels. is over the limit of 1,919 pixels"):
        to_gray(path, max_pixels=1919)
    rec = EmotionRecognizer(detector=None, tta="none", max_pixels=1919)
    with pytest.raises(ImageTooLarge, match=str(path)):
        rec.predict(path)
    assert len(rec.predict(np.asarray(Image.open(path)))) == 1  # arrays are decoded already: not limited
    with pytest.raises(FerxError, match="max_pixels 0: must be a positive number"):
        EmotionRecognizer(detector=None, max_pixels=0)


def test_pil_own_limit_is_reported_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(source()).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # PIL raises DecompressionBombError above twice this
    with pytest.raises(ImageTooLarge, match=rf"^{path}: over PIL's limit of 1000 pixels"):
        to_gray(path, max_pixels=None)


@pytest.mark.parametrize("kind", ["png", "webp", "array", "bgra-array"])
def test_partly_transparent_rgba_is_composited_on_white(tmp_path: Path, kind: str) -> None:
    rgb = source(2)
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[:, 12:24], alpha[:, 24:36], alpha[:, 36:] = 64, 128, 255  # left quarter fully transparent
    rgba = np.dstack([rgb, alpha])
    if kind in ("png", "webp"):
        image = tmp_path / f"rgba.{kind}"
        Image.fromarray(rgba, "RGBA").save(image, lossless=True, exact=True)
    else:
        image = rgba if kind == "array" else np.dstack([rgb[..., ::-1], alpha])
    gray = to_gray(image, bgr=kind == "bgra-array")
    expected = luma(on_white(rgb, alpha))
    assert np.abs(gray.astype(int) - expected).max() <= 1
    assert (gray[:, :12] == 255).all()  # what is fully transparent is white, whatever colour it hides
    assert np.abs(gray[:, 36:].astype(int) - luma(rgb)[:, 36:]).max() <= 1  # opaque: untouched


def test_one_set_of_image_suffixes_everywhere(tmp_path: Path) -> None:
    assert fer2013.IMAGE_SUFFIXES is folders.IMAGE_SUFFIXES is images.IMAGE_SUFFIXES is IMAGE_SUFFIXES
    split = tmp_path / "train"
    for i, name in enumerate(CLASSES):
        (split / name).mkdir(parents=True)
        Image.fromarray(np.full((48, 48), 20 * i, np.uint8)).save(split / name / "a.png")
    Image.fromarray(np.full((48, 48), 200, np.uint8)).save(split / "happy" / "b.gif")
    Image.fromarray(np.full((48, 48), 210, np.uint8)).save(split / "happy" / "c.pgm")
    loaded = fer2013.load_folder_split(split)
    assert len(loaded) == 9 and sorted(loaded.images[:, 0, 0][loaded.labels == 3]) == [60, 200, 210]
    found, skipped = find_images([split])
    assert {p.suffix for p in found} == {".png", ".gif", ".pgm"} and skipped == []
