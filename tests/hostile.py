"""Malformed, odd and hostile image files, generated in memory from a seed, each with what ferx must make of it."""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

H, W = 40, 48  # small: the whole corpus decodes in well under a second


@dataclass
class Case:
    """`expect`: "ok" (decodes to `gray`, within `tol` grey levels on average), "too_large" (refused from the
    header), "error" (a clear error) or "any" (a clear error or an answer: the other paths must agree)."""

    name: str
    data: bytes
    expect: str
    gray: np.ndarray | None = None
    tol: float = 0.0


def source(seed: int = 0) -> np.ndarray:
    """A smooth colour picture with some structure, (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
    base = np.stack([200 * xx + 30, 180 * yy + 40, 120 * (1 - xx * yy) + 60], -1)
    blob = 60 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) / 0.02)[..., None]
    return np.clip(base - blob + rng.normal(0, 3, (H, W, 3)), 0, 255).astype(np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 grey, as PIL's "L" conversion, computed here by hand."""
    return np.clip(rgb.astype(np.float64) @ [0.299, 0.587, 0.114] + 0.5, 0, 255).astype(np.uint8)


def on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`rgb` composited over a white background with `alpha` (0-255)."""
    a = alpha.astype(np.float64)[..., None] / 255
    return np.clip(rgb * a + 255 * (1 - a) + 0.5, 0, 255).astype(np.uint8)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of width x height: a few tens of kB that decode to width*height pixels."""
    row, comp = b"\0" * (1 + (width + 7) // 8), zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def with_png_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with another size in its header (and a valid CRC): the pixel data no longer fits."""
    ihdr = struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png_chunk(b"IHDR", ihdr) + png[33:]


def with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    i = jpeg.index(b"\xff\xc0")  # baseline start-of-frame: length(2) precision(1) height(2) width(2)
    return jpeg[: i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9 :]


def with_gif_size(gif: bytes, width: int, height: int) -> bytes:
    return gif[:6] + struct.pack("<HH", width, height) + gif[10:]


def with_bmp_size(bmp: bytes, width: int, height: int) -> bytes:
    return bmp[:18] + struct.pack("<ii", width, height) + bmp[26:]


def with_tiff_size(tiff: bytes, width: int, height: int) -> bytes:
    for tag, value in ((256, width), (257, height)):
        for kind, fmt in ((3, "<HHIH"), (4, "<HHII")):  # SHORT or LONG entry, count 1
            entry = struct.pack(fmt, tag, kind, 1, {256: W, 257: H}[tag])
            if entry in tiff:
                new = struct.pack("<HHII", tag, 4, 1, value) if kind == 4 else struct.pack("<HHIH", tag, 3, 1, value)
                tiff = tiff.replace(entry, new, 1)
                break
    return tiff


def oriented(a: np.ndarray, orientation: int) -> np.ndarray:
    """How a viewer shows pixels stored as `a` under an EXIF orientation (1-8; other values: as stored)."""
    turn = {2: np.fliplr, 3: lambda x: np.rot90(x, 2), 4: np.flipud, 5: lambda x: x.swapaxes(0, 1),
            6: lambda x: np.rot90(x, -1), 7: lambda x: np.rot90(x, 2).swapaxes(0, 1), 8: lambda x: np.rot90(x, 1)}
    return turn.get(orientation, lambda x: x)(a)


def valid_cases() -> list[Case]:
    """Every kind of well-formed file ferx must read, with the grey pixels it must see."""
    rgb = source(0)
    gray = luma(rgb)
    alpha = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))  # fully transparent to opaque, left to right
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    pal = Image.fromarray(rgb).quantize(32, dither=Image.Dither.NONE)
    pal_rgb = np.asarray(pal.convert("RGB"))
    pal_t = pal.copy()
    pal_t.info["transparency"] = int(np.asarray(pal)[0, 0])  # the colour of the top-left pixel is see-through
    pal_t_rgb = np.where((np.asarray(pal) == np.asarray(pal)[0, 0])[..., None], 255, pal_rgb).astype(np.uint8)
    g16 = gray.astype(np.uint16) * 257
    cmyk = Image.fromarray(rgb).convert("CMYK")
    cmyk_gray = luma(np.asarray(cmyk.convert("RGB")))
    frames = [Image.fromarray(rgb).quantize(32, dither=Image.Dither.NONE), Image.fromarray(255 - rgb).convert("P")]

    L = Image.fromarray(gray)
    cases = [
        Case("rgb.png", encode(Image.fromarray(rgb), "PNG"), "ok", gray),
        Case("gray.png", encode(L, "PNG"), "ok", gray),
        Case("gray16.png", cv2.imencode(".png", g16)[1].tobytes(), "ok", gray),
        Case("rgb16.png", cv2.imencode(".png", rgb[..., ::-1].astype(np.uint16) * 257)[1].tobytes(), "ok", gray, 1),
        Case("bilevel.png", encode(L.convert("1", dither=Image.Dither.NONE), "PNG"), "ok", np.where(gray >= 128, 255, 0)),
        Case("rgba.png", encode(rgba, "PNG"), "ok", luma(on_white(rgb, alpha)), 0.5),
        Case("la.png", encode(Image.fromarray(np.dstack([gray, alpha]), "LA"), "PNG"), "ok",
             luma(on_white(np.dstack([gray] * 3), alpha)), 0.5),
        Case("palette.png", encode(pal, "PNG"), "ok", luma(pal_rgb)),
        Case("palette_transparent.png", encode(pal_t, "PNG", transparency=pal_t.info["transparency"]), "ok",
             luma(pal_t_rgb)),
        Case("palette.gif", encode(pal, "GIF"), "ok", luma(pal_rgb)),
        Case("palette_transparent.gif", encode(pal_t, "GIF", transparency=pal_t.info["transparency"]), "ok",
             luma(pal_t_rgb)),
        Case("animated.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50), "ok",
             luma(np.asarray(frames[0].convert("RGB")))),
        Case("animated.png", encode(Image.fromarray(rgb), "PNG", save_all=True,
                                    append_images=[Image.fromarray(255 - rgb)]), "ok", gray),
        Case("animated.webp", encode(Image.fromarray(rgb), "WEBP", save_all=True, lossless=True,
                                     append_images=[Image.fromarray(255 - rgb)]), "ok", gray, 0.5),
        Case("rgb.jpg", encode(Image.fromarray(rgb), "JPEG", quality=95), "ok", gray, 3),
        Case("gray.jpg", encode(L, "JPEG", quality=95), "ok", gray, 3),
        Case("progressive.jpg", encode(Image.fromarray(rgb), "JPEG", quality=95, progressive=True), "ok", gray, 3),
        Case("cmyk.jpg", encode(cmyk, "JPEG", quality=95), "ok", cmyk_gray, 3),
        Case("cmyk.tif", encode(cmyk, "TIFF"), "ok", cmyk_gray),
        Case("rgb.tif", encode(Image.fromarray(rgb), "TIFF"), "ok", gray),
        Case("lzw.tif", encode(Image.fromarray(rgb), "TIFF", compression="tiff_lzw"), "ok", gray),
        Case("gray16.tif", encode(Image.fromarray(g16), "TIFF"), "ok", gray),
        Case("rgba.tif", encode(rgba, "TIFF"), "ok", luma(on_white(rgb, alpha)), 0.5),
        Case("float.tif", encode(Image.fromarray(gray.astype(np.float32)), "TIFF"), "ok", gray),
        Case("lossless.webp", encode(Image.fromarray(rgb), "WEBP", lossless=True), "ok", gray),
        Case("rgba.webp", encode(rgba, "WEBP", lossless=True, exact=True), "ok", luma(on_white(rgb, alpha)), 0.5),
        Case("lossy.webp", encode(Image.fromarray(rgb), "WEBP", quality=95), "ok", gray, 4),
        Case("rgb.bmp", encode(Image.fromarray(rgb), "BMP"), "ok", gray),
        Case("gray.pgm", encode(L, "PPM"), "ok", gray),
        Case("rgb.ppm", encode(Image.fromarray(rgb), "PPM"), "ok", gray),
        # wrong extensions: the content decides
        Case("png_named.jpg", encode(Image.fromarray(rgb), "PNG"), "ok", gray),
        Case("jpeg_named.png", encode(Image.fromarray(rgb), "JPEG", quality=95), "ok", gray, 3),
        Case("gif_named.tif", encode(pal, "GIF"), "ok", luma(pal_rgb)),
        Case("webp_named.bmp", encode(Image.fromarray(rgb), "WEBP", lossless=True), "ok", gray),
    ]
    for orientation in (1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 255, 65535):  # 0, 9 and up: not an orientation, shown as stored
        exif = Image.Exif()
        exif[0x0112] = orientation
        cases.append(Case(f"exif{orientation}.png", encode(Image.fromarray(rgb), "PNG", exif=exif), "ok",
                          oriented(gray, orientation)))
        if orientation in (6, 9):
            cases.append(Case(f"exif{orientation}.jpg", encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif),
                              "ok", oriented(gray, orientation), 3))
    return cases


def too_large_cases() -> list[Case]:
    """Headers that declare more pixels than the default limit (40 megapixels)."""
    rgb = Image.fromarray(source(1))
    png, jpeg, gif = encode(rgb, "PNG"), encode(rgb, "JPEG"), encode(rgb.convert("P"), "GIF")
    bmp, tiff = encode(rgb, "BMP"), encode(rgb, "TIFF")
    return [
        Case("bomb.png", png_bomb(13000, 13000), "too_large"),  # the 0.5-MB, 1.7-GB bomb, smaller on disk
        Case("huge_header.png", with_png_size(png, 100_000, 100_000), "too_large"),
        Case("just_over.png", with_png_size(png, 8000, 5001), "too_large"),
        Case("huge_header.jpg", with_jpeg_size(jpeg, 65_000, 65_000), "too_large"),
        Case("huge_header.gif", with_gif_size(gif, 65_535, 65_535), "too_large"),
        Case("huge_header.bmp", with_bmp_size(bmp, 30_000, 30_000), "too_large"),
        Case("huge_header.tif", with_tiff_size(tiff, 50_000, 50_000), "too_large"),
    ]


def broken_cases(rng: np.random.Generator, encoded: list[Case]) -> list[Case]:
    """Zero bytes, random bytes, real magic numbers over garbage, text, truncations and flipped bytes."""
    cases = [Case("empty.jpg", b"", "error"), Case("empty.png", b"", "error"),
             Case("notes.jpg", b"not an image, just words\n" * 4, "error")]
    for i, n in enumerate((1, 2, 7, 64, 512, 4096, 30, 300, 3000, 100)):
        cases.append(Case(f"random{i}.{('jpg', 'png', 'gif', 'tif', 'webp')[i % 5]}", rng.bytes(n), "error"))
    magics = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0", "gif": b"GIF89a", "tif": b"II*\x00",
              "tiff": b"MM\x00*", "webp": b"RIFF\x10\x00\x00\x00WEBPVP8 ", "bmp": b"BM"}
    for ext, magic in magics.items():
        for n in (0, 10, 200, 2000):
            cases.append(Case(f"magic_{ext}_{n}.{ext}", magic + rng.bytes(n), "any"))
    for c in encoded:
        for frac in (0.05, 0.3, 0.6, 0.9, 0.99):
            cases.append(Case(f"cut{int(frac * 100)}_{c.name}", c.data[: int(len(c.data) * frac)], "any"))
        for k in range(4):
            data = bytearray(c.data)
            for pos in rng.integers(0, len(data), size=int(rng.integers(1, 9))):
                data[pos] = int(rng.integers(0, 256))
            cases.append(Case(f"flip{k}_{c.name}", bytes(data), "any"))
    return cases


def corpus(seed: int = 16) -> list[Case]:
    """Every case, names unique; the same list for the same seed."""
    rng = np.random.default_rng(seed)
    valid = valid_cases()
    mutate = [c for c in valid if not c.name.startswith("exif")][:24]
    return valid + too_large_cases() + broken_cases(rng, mutate)
