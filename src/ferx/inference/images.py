"""Read images of every kind users have into 8-bit grayscale arrays, and find image files in folders."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable, Union

import numpy as np
from PIL import Image, ImageOps

from ..errors import FerxError, ImageTooLarge
from ..files import IMAGE_SUFFIXES

ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]
# Decoded pixels allowed per image file or upload: 40 megapixels is above a phone photo's usual 12-24 MP and most
# cameras' (bigger scans and panoramas need max_pixels / --max-pixels), while one decode at the limit peaks near
# 300 MB (benchmarks/decode_memory.py: +295 MB to gray, +370 MB to RGB). The size comes from the header, so
# refusing a bigger image costs nothing.
DEFAULT_MAX_PIXELS = 40_000_000


def _flatten(img: Image.Image) -> Image.Image:
    """EXIF orientation applied, 16-bit scaled to 8-bit, transparency composited on white: an L or RGB image."""
    ImageOps.exif_transpose(img, in_place=True)  # phone photos: pixels stored sideways; in place: no 2-MP copy
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / hi * 255 + 0.5, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img if img.mode in ("L", "RGB") else img.convert("RGB")


def check_pixels(size: tuple[int, int], name: str, max_pixels: int | None) -> None:
    """ImageTooLarge naming the image if its (width, height) is over `max_pixels` (None: no limit)."""
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise ImageTooLarge(f"{name}: {w}x{h} image ({w * h:,} pixels) is over the limit of {max_pixels:,} pixels "
                            "(max_pixels)")


def open_image(source: Path | bytes, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """An image with only its header read (PIL is lazy), refused if it declares more than `max_pixels` pixels."""
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except Image.DecompressionBombError:  # over twice PIL's own Image.MAX_IMAGE_PIXELS, which also applies
        raise ImageTooLarge(f"{name}: over PIL's limit of {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels "
                            "(PIL.Image.MAX_IMAGE_PIXELS)") from None
    except Exception as exc:  # PIL's parsers raise many types on hostile bytes; all mean "not an image"
        raise FerxError(f"{name}: not a readable image ({exc.__class__.__name__})") from None
    try:
        check_pixels(img.size, name, max_pixels)
    except ImageTooLarge:
        img.close()
        raise
    return img


def decode(img: Image.Image, name: str, mode: str) -> np.ndarray:
    """The pixels of an opened image, flattened (see `_flatten`), as an 8-bit "L" or "RGB" array."""
    try:
        with img:
            flat = _flatten(img)
            return np.asarray(flat if flat.mode == mode else flat.convert(mode), dtype=np.uint8)
    except Exception as exc:  # truncated or corrupt data surfaces only now, as any of PIL's exception types
        raise FerxError(f"{name}: not a readable image ({exc.__class__.__name__})") from None


def _read(path: Path, mode: str, max_pixels: int | None) -> np.ndarray:
    """An image file as an "L" or "RGB" array, or a one-line FerxError naming it."""
    if not path.exists():
        raise FerxError(f"{path}: no such file")
    if path.is_dir():
        raise FerxError(f"{path}: is a folder, expected an image file")
    if path.stat().st_size == 0:
        raise FerxError(f"{path}: empty file")
    return decode(open_image(path, str(path), max_pixels), str(path), mode)


def rgb_from_bytes(data: bytes, name: str = "upload", max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An encoded image (e.g. an HTTP upload) as an 8-bit RGB array; FerxError naming it if unreadable."""
    return decode(open_image(data, name, max_pixels), name, "RGB")


def load_rgb(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as an 8-bit RGB array (EXIF orientation applied), for detection and for drawing."""
    return _read(Path(path), "RGB", max_pixels)


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
        img = Image.fromarray(np.ascontiguousarray(rgb))
        if a.shape[2] == 4:  # like an RGBA file: composited on white
            img.putalpha(Image.fromarray(np.ascontiguousarray(a[..., 3])))
            img = _flatten(img)
        return np.asarray(img.convert("L"))
    if a.ndim == 3 and a.shape[2] == 1:
        return a[..., 0]
    raise FerxError(f"unsupported array shape {a.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")


def to_gray(image: ImageInput, bgr: bool = False, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A path, PIL image or array (RGB, or BGR with `bgr`) as an 8-bit grayscale array, EXIF orientation applied.

    Files and PIL images over `max_pixels` raise ImageTooLarge before decoding (arrays are decoded already).
    """
    if isinstance(image, np.ndarray):
        return _array_to_gray(image, bgr)
    if isinstance(image, Image.Image):
        check_pixels(image.size, "image", max_pixels)
        try:
            return np.asarray(_flatten(image).convert("L"), dtype=np.uint8)
        except Exception as exc:  # a lazily opened image decodes only now
            raise FerxError(f"image: not a readable image ({exc.__class__.__name__})") from None
    return _read(Path(image), "L", max_pixels)


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

