"""Already-cropped faces per second from disk to CSV: `ferx predict DIR --no-detect --csv` on the streaming path.

Makes N face files in a temporary folder from FER-2013 test images (never kept), then times the whole command
(start-up, walk, decode in worker processes, classify, CSV) for each test-time mode and worker count:

    python benchmarks/predict_folder.py --data ../shared/fer2013 --n 10000 --workers 0 2 --tta none views
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path


def make_faces(data: Path, dst: Path, n: int) -> None:
    """`n` face files in 100 subfolders, copied round-robin from the FER-2013 test split."""
    src = sorted((data / "test").rglob("*.jpg"))
    for i, f in enumerate(islice(cycle(src), n)):
        sub = dst / f"{i % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, sub / f"{i:06d}.jpg")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--tta", nargs="+", default=["none", "views"])
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferx-faces-") as tmp:
        faces = Path(tmp) / "faces"
        make_faces(Path(args.data), faces, args.n)
        print(f"{args.n} face files ({sum(f.stat().st_size for f in faces.rglob('*.jpg')) / 2**20:.1f} MiB) in {faces}; "
              f"{os.cpu_count()} CPUs")
        print("| tta | workers | seconds | faces/s |\n|---|---:|---:|---:|")
        for tta in args.tta:
            for w in args.workers:
                out = Path(tmp) / f"out-{tta}-{w}.csv"
                cmd = [sys.executable, "-m", "ferx", "predict", str(faces), "--no-detect", "--csv", str(out),
                       "--tta", tta, "--workers", str(w), "--quiet"]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                secs = time.perf_counter() - t0
                rows = sum(1 for _ in open(out)) - 1
                assert rows == args.n, f"{rows} rows for {args.n} faces"
                print(f"| {tta} | {w} | {secs:.1f} | {args.n / secs:.0f} |")


if __name__ == "__main__":
    main()
