"""Which run's checkpoint is better on the validation split? Accuracy and macro F1 on the default path.

Usage: python scripts/compare_on_validation.py RUN_DIR_OR_WEIGHTS [...] [--data ../shared/fer2013]
Prints, per checkpoint, validation accuracy, macro F1 and their mean under each test-time mode (six views,
the default prediction path; face + mirror; a single pass). Only the validation split is read: this is the script that makes choices.
--ensemble adds the checkpoints' mean logits (per view) as one more row set: what a teacher ensemble would give.
--pairs scores single passes only: each checkpoint, then every pair's mean logits (one pass of each model, 2 in all).
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from ferx.data.fer2013 import load_dataset
from ferx.results.metrics import compute_metrics
from ferx.inference.views import NAMES, mode_probs, predict_views
from ferx.weights import load_weights


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+", help="run folders (their best_model.pt) or weight files")
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ensemble", action="store_true", help="also score the mean logits of all checkpoints")
    p.add_argument("--pairs", action="store_true", help="single passes only: each checkpoint and every pair of them")
    args = p.parse_args()
    val = load_dataset(args.data, args.val_fraction, args.seed)["val"]
    print(f"validation split, {len(val)} images")
    logits = {}
    for run in args.runs:
        path = Path(run) / "best_model.pt" if Path(run).is_dir() else Path(run)
        logits[str(path)] = predict_views(load_weights(path), val.images, "none" if args.pairs else "views")
    singles = list(logits)
    if args.ensemble:
        logits[f"ensemble of {len(singles)}"] = sum(logits[k] for k in singles) / len(singles)
    if args.pairs:
        for a, b in itertools.combinations(singles, 2):
            logits[f"{a} + {b}"] = (logits[a] + logits[b]) / 2
    for label, views in logits.items():
        probs = mode_probs(views, "none" if args.pairs else "views")
        for key, name in NAMES.items():
            if key not in probs:
                continue
            m = compute_metrics(val.labels, probs[key])
            print(f"{label:45s} {name:13s}  acc {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  "
                  f"mean {(m['accuracy'] + m['macro_f1']) / 2:.4f}")


if __name__ == "__main__":
    main()
