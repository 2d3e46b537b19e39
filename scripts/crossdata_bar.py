"""The issue-14 crossdata bar's figures from benchmarks/compare_fer.py records, one row per record.

Usage: python scripts/crossdata_bar.py LABEL=RECORD.txt [...] [--detector centerface]
Prints accuracy / macro F1 as the bar reads them: ckplus48 with the whole image as the face, the other sets through
the detector's photo path; then the lowest and highest of each column over the records.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

SETS = {"ckplus48": "ferx whole image", "jaffe": "photo", "taiwan_dev": "photo", "wild_dev": "photo"}


def figures(path: Path, detector: str) -> dict[str, tuple[float, float]]:
    """(accuracy, macro F1) per set from the table rows of one record."""
    out = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or cells[0] not in SETS:
            continue
        want = SETS[cells[0]] if SETS[cells[0]] != "photo" else f"ferx photo ({detector})"
        if cells[1] == want and re.fullmatch(r"[0-9.]+", cells[3]):
            out[cells[0]] = (float(cells[3]), float(cells[4]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("records", nargs="+", help="LABEL=PATH of a compare_fer.py output")
    p.add_argument("--detector", default="centerface")
    args = p.parse_args()
    rows = {}
    for item in args.records:
        label, path = item.split("=", 1)
        rows[label] = figures(Path(path), args.detector)
    print("| model | " + " | ".join(f"{s}{' whole image' if SETS[s] != 'photo' else ''}" for s in SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    for label, f in rows.items():
        print(f"| {label} | " + " | ".join(f"{f[s][0]:.3f} / {f[s][1]:.3f}" if s in f else "-" for s in SETS) + " |")
    for name, pick in (("lowest", min), ("highest", max)):
        cells = []
        for s in SETS:
            have = [f[s] for f in rows.values() if s in f]
            cells.append(f"{pick(a for a, _ in have):.3f} / {pick(b for _, b in have):.3f}" if have else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
