"""Markdown table of `ferx crossval` results folders (crossval.json): one row per folder, mean ± std over folds.

    python scripts/crossdata_table.py docs/crossdata/*/crossval.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def row(path: Path) -> str:
    r = json.loads(path.read_text())
    how = "packaged model as it is" if r["epochs"] == 0 else (
        f"fine-tuned from {r['init']}" if r["init"] else "trained from scratch")
    m, p = r["mean"], r["pooled"]
    return (f"| {Path(r['data']).name} | {how} | {r['folds']} | {m['accuracy']:.3f} ± {m['accuracy_std']:.3f} "
            f"| {m['macro_f1']:.3f} ± {m['macro_f1_std']:.3f} | {p['accuracy']:.3f} | {r['seconds'] / 60:.1f} |")


def main(paths: list[str]) -> None:
    print("| data set | model | folds | accuracy, mean ± std | macro F1, mean ± std | pooled accuracy | minutes |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for p in paths:
        print(row(Path(p)))


if __name__ == "__main__":
    main(sys.argv[1:])
