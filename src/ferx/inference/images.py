"""Read images of every kind users have into 8-bit grayscale arrays, and find image files in folders."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import FerxError

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def _flatten(img: Image.Image) -> Image.Image:
    """EXIF orientation applied, 16-bit scaled to 8-bit, transparency composited on white: an L or RGB image."""
    img = ImageOps.exif_transpose(img)  # phone photos: pixels stored sideways, orientation in EXIF
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / hi * 255 + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img if img.mode == "L" else img.convert("RGB")


def _pil_to_gray(img: Image.Image) -> np.ndarray:
    return np.asarray(_flatten(img).convert("L"), dtype=np.uint8)


def _read(path: Path) -> Image.Image:
    """A flattened PIL image from a file, or a one-line FerxError naming it."""
    if not path.exists():
        raise FerxError(f"{path}: no such file")
    if path.is_dir():
        raise FerxError(f"{path}: is a folder, expected an image file")
    if path.stat().st_size == 0:
        raise FerxError(f"{path}: empty file")
    try:
        with Image.open(path) as img:
            img.load()
            return _flatten(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise FerxError(f"{path}: not a readable image ({exc.__class__.__name__})") from None


def rgb_from_bytes(data: bytes, name: str = "upload") -> np.ndarray:
    """An encoded image (e.g. an HTTP upload) as an 8-bit RGB array; FerxError naming it if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return np.asarray(_flatten(img).convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise FerxError(f"{name}: not a readable image ({exc.__class__.__name__})") from None


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as an 8-bit RGB array (EXIF orientation applied), for detection and for drawing."""
    return np.asarray(_read(Path(path)).convert("RGB"))


def _array_to_gray(a: np.ndarray, bgr: bool) -> np.ndarray:
    if a.dtype == np.uint16:
        a = (a.astype(np.float64) / 257 + 0.5).astype(np.uint8)
    elif a.dtype.kind == "f":
        a = np.clip(a * (255 if a.max() <= 1.0 else 1) + 0.5, 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise FerxError(f"unsupported array dtype {a.dtype}; expected uint8, uint16 or float")
    if a.ndim == 2:
        return a
    if a.ndim == 3 and a.shape[2] in (3, 4):
        rgb = a[..., :3][..., ::-1] if bgr else a[..., :3]
        return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"))
    if a.ndim == 3 and a.shape[2] == 1:
        return a[..., 0]
    raise FerxError(f"unsupported array shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")


def to_gray(image: ImageInput, bgr: bool = False) -> np.ndarray:
    """A path, PIL image or array (RGB, or BGR with `bgr`) as an 8-bit grayscale array, EXIF orientation applied."""
    if isinstance(image, np.ndarray):
        return _array_to_gray(image, bgr)
    if isinstance(image, Image.Image):
        return _pil_to_gray(image)
    return np.asarray(_read(Path(image)).convert("L"), dtype=np.uint8)


def find_images(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    """Image files named or found recursively under folders; also the non-image files skipped in folders."""
    images, skipped = [], []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                (images if f.suffix.lower() in IMAGE_SUFFIXES else skipped).append(f)
        else:
            images.append(p)  # named explicitly: tried, and reported if it is not an image
    return images, skipped

