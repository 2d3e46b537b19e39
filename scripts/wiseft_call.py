"""The call on a two-seed fine-tune by (g) and (h) of docs/experiments/decision-rule-distill.txt (revision 20's text,
kept by revisions 21-23): the interpolation weight and two-pass path chosen on validation, then each seed's
theta(a_P) read on crossdata against the floors and the shipped six views. No test figure is read here: (f) is
printed as the one command left.

Usage (from the repository root):
    python scripts/wiseft_call.py OUT START_A TUNED_A START_B TUNED_B [--seeds 0 1]
        [--baseline runs/paired/shipped-views.csv]
--seeds names the two runs' seeds (K below). Writes into OUT each step's record (validation-sweep-sK-P.txt, crossdata-sK-P.txt and .csv, paired-sK-P.txt),
theta-sK.pt and call.txt. A record already in OUT is read, not made again, so a stopped call goes on where it was.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from crossdata_bar import figures  # noqa: E402

ALPHAS = ",".join(f"{a / 10:.1f}" for a in range(1, 11))
PATHS = ("flip", "cross")  # face + mirror, mirror + zoomed face; flip wins a tie
SINGLE_BAR = 0.6761 + 0.010  # (g): the shipped single-pass mean of accuracy and macro F1, beaten by a point
PATH_BAR = 0.6935  # (g): the shipped six-view mean
FLOORS = {"ckplus48": (0.684, 0.617), "jaffe": (0.488, 0.401), "taiwan_dev": (0.572, 0.497),
          "wild_dev": (0.680, 0.575)}  # (h)(1): the lowest of the shipped recipe's four draws
ROW = re.compile(r"a (\d\.\d+)\s+(.+?)\s+acc [0-9.]+\s+macro F1 [0-9.]+\s+mean ([0-9.]+)")


def sweep_means(record: str) -> dict[float, tuple[float, float]]:
    """{a: (single-pass mean, path mean)} from an interpolate_weights.py record."""
    rows: dict[float, list[float]] = {}
    for match in ROW.finditer(record):
        rows.setdefault(float(match[1]), []).append(float(match[3]))
    return {a: (m[0], m[1]) for a, m in rows.items() if len(m) == 2}


def choose_alpha(means: dict[float, tuple[float, float]]) -> float | None:
    """(g): the largest a whose single pass beats the shipped one by a point and whose path reaches the six views."""
    ok = [a for a, (single, path) in means.items() if single >= SINGLE_BAR - 5e-5 and path >= PATH_BAR - 5e-5]
    return max(ok) if ok else None


def choose_path(chosen: dict[str, list[tuple[float | None, float]]]) -> str | None:
    """(g): of the paths whose a qualifies at every seed, the one with the higher path mean over the seeds."""
    ok = {p: sum(m for _, m in seeds) / len(seeds) for p, seeds in chosen.items() if all(a is not None for a, _ in seeds)}
    return max(PATHS, key=lambda p: (p in ok, ok.get(p, 0.0), p == "flip")) if ok else None


def paired_intervals(record: str) -> dict[str, tuple[float, float]]:
    """{set: (upper end of the accuracy interval, upper end of the macro F1 interval)} from a paired_crossdata.py record."""
    out = {}
    for line in record.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        ends = [re.fullmatch(r"[+-][0-9.]+ \[[+-][0-9.]+, ([+-][0-9.]+)\]", c) for c in cells]
        ends = [float(e[1]) for e in ends if e]
        if cells[0] in FLOORS and len(ends) == 2:
            out[cells[0]] = (ends[0], ends[1])
    return out


def crossdata_failures(bar_figures: dict, upper_ends: dict) -> list[str]:
    """(h): every set where a figure is under its floor (1) or an interval ends below 0 (2); empty if none."""
    fails = []
    for name, (acc_floor, f1_floor) in FLOORS.items():
        if name not in bar_figures or name not in upper_ends:
            fails.append(f"{name}: no figure")
            continue
        acc, f1 = bar_figures[name]
        if acc < acc_floor or f1 < f1_floor:
            fails.append(f"{name}: {acc:.3f} / {f1:.3f} under the floor {acc_floor:.3f} / {f1_floor:.3f} (1)")
        if min(upper_ends[name]) < 0:
            fails.append(f"{name}: shown worse than the shipped six views, upper ends "
                         f"{upper_ends[name][0]:+.3f} / {upper_ends[name][1]:+.3f} (2)")
    return fails


def record(path: Path, args: list[str]) -> str:
    """The output of `python ARGS`, kept in `path` under the command and its time; read back if already there."""
    if not path.exists():
        command = " ".join(["python", *args])
        print(f"$ {command}", flush=True)
        out = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True).stdout
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"$ {command}   # {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n{out}")
        tmp.replace(path)
    return path.read_text()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("runs", nargs=4, help="START_A TUNED_A START_B TUNED_B")
    p.add_argument("--seeds", nargs=2, default=["0", "1"], help="the two runs' seeds, for names")
    p.add_argument("--baseline", default="runs/paired/shipped-views.csv", help="the shipped six views' predictions")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [tuple(args.runs[:2]), tuple(args.runs[2:])]
    names = args.seeds
    lines = []
    chosen: dict[str, list[tuple[float | None, float]]] = {}
    for path in PATHS:
        for k, (start, tuned) in enumerate(seeds):
            means = sweep_means(record(args.out / f"validation-sweep-s{names[k]}-{path}.txt",
                                       ["scripts/interpolate_weights.py", start, tuned, "--alphas", ALPHAS, "--path", path]))
            a = choose_alpha(means)
            chosen.setdefault(path, []).append((a, means[a][1] if a is not None else 0.0))
            lines.append(f"(g) seed {names[k]} ({tuned}), {path}: a = {a}" + (f", means {means[a]}" if a is not None else ""))
    path = choose_path(chosen)
    lines.append(f"(g) path: {path}")
    if path is None:
        lines.append("nothing ships: no path qualifies at both seeds (g)")
    else:
        if not Path(args.baseline).exists():
            record(args.out / "baseline-shipped-views.txt", ["benchmarks/compare_fer.py", "--fer-python", "",
                                                             "--detectors", "centerface", "--predictions", args.baseline])
        failed = False
        for k, (start, tuned) in enumerate(seeds):
            a, _ = chosen[path][k]
            theta = args.out / f"theta-s{names[k]}.pt"
            record(args.out / f"theta-s{names[k]}.txt", ["scripts/interpolate_weights.py", start, tuned, "--save", str(a), str(theta)])
            csv = args.out / f"crossdata-s{names[k]}-{path}.csv"
            rec = args.out / f"crossdata-s{names[k]}-{path}.txt"
            record(rec, ["benchmarks/compare_fer.py", "--weights", str(theta), "--fer-python", "", "--detectors",
                         "centerface", "--tta", path, "--predictions", str(csv)])
            paired = record(args.out / f"paired-s{names[k]}-{path}.txt", ["scripts/paired_crossdata.py", args.baseline, str(csv)])
            fails = crossdata_failures(figures(rec, "centerface"), paired_intervals(paired))
            failed |= bool(fails)
            lines.append(f"(h) seed {names[k]} theta({a}): " + ("; ".join(fails) if fails else "meets (1) and (2) on every set"))
        if failed:
            lines.append("nothing ships: (h) fails")
        else:
            k = max(range(2), key=lambda i: chosen[path][i][1])
            start, tuned = seeds[k]
            run = f"runs/ship-s{names[k]}"  # a run folder that scripts/release.py takes if (f) holds
            lines.append(f"(f) left, read once: python scripts/interpolate_weights.py {start} {tuned} --run "
                         f"{chosen[path][k][0]} {run} && ferx evaluate --weights {run}/best_model.pt --data "
                         f"../shared/fer2013 --out {run} --tta {path}")
    text = "\n".join(lines) + "\n"
    (args.out / "call.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
