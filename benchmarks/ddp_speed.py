"""Training time of 1 process against N data-parallel ranks (`ferx train --nproc N`, gloo on CPU / NCCL on GPU).

Same data, seed and global batch; prints the median epoch time of each (history.csv) and the wall time of the
whole command (start-up and the test evaluation included):

    python benchmarks/ddp_speed.py --data ../shared/fer2013 --limit 3000 --epochs 2 --nproc 2
    python benchmarks/ddp_speed.py --device cuda --limit 0 --epochs 3 --nproc 1   # 1 rank vs the plain loop, GPU
"""
from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: argparse.Namespace, nproc: int | None, out: Path) -> tuple[float, float]:
    """(median epoch seconds, wall seconds) of one training run; nproc None is the plain single-process loop."""
    cmd = [sys.executable, "-m", "ferx", "train", "--data", args.data, "--out", str(out), "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--device", args.device]
    cmd += ["--limit", str(args.limit)] if args.limit else []
    cmd += ["--nproc", str(nproc)] if nproc else []
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(out / "history.csv", newline="") as f:
        return statistics.median(float(r["seconds"]) for r in csv.DictReader(f)), wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--limit", type=int, default=3000, help="images per split (0: all)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--nproc", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferx-ddp-") as tmp:
        print(f"| run | median epoch s | wall s |\n|---|---:|---:|")
        for name, nproc in (("plain loop, 1 process", None), (f"torchrun, {args.nproc} rank(s)", args.nproc)):
            epoch, wall = run(args, nproc, Path(tmp) / name.split(",")[0].replace(" ", "-"))
            print(f"| {name} | {epoch:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
