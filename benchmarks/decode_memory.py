"""Peak memory of decoding one image at the pixel limit, as `ferx serve` does (header, then 8-bit gray).

Usage: python benchmarks/decode_memory.py [--pixels 40000000] [--mode L]
Each size runs in a fresh process so that one measurement's peak is not the next one's floor.
"""
from __future__ import annotations

import argparse
import io
import math
import resource
import subprocess
import sys
import time

import numpy as np
from PIL import Image


def measure(pixels: int, mode: str) -> None:
    from ferx.inference.images import decode, open_image

    h = int(math.sqrt(pixels * 2 / 3))
    w = pixels // h  # a 3:2 photo just under `pixels`
    small = np.random.default_rng(0).integers(0, 255, (h // 8, w // 8, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((w, h)).save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    del small
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    pixels_out = decode(open_image(data, "photo", max_pixels=None), "photo", mode)
    seconds = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"{w}x{h} JPEG ({w * h / 1e6:.1f} megapixels, {len(data) / 1e6:.1f} MB) to {mode} {pixels_out.shape}: "
          f"peak memory +{grown:.0f} MB, {seconds:.2f} s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pixels", type=int, nargs="+", default=[12_000_000, 40_000_000])
    p.add_argument("--mode", default="L", choices=["L", "RGB"], help="L: as ferx serve; RGB: as ferx predict")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        measure(args.one, args.mode)
        return
    for n in args.pixels:
        subprocess.run([sys.executable, __file__, "--one", str(n), "--mode", args.mode], check=True)


if __name__ == "__main__":
    main()
