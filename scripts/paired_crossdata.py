"""Two ferx prediction paths on the same crossdata images, paired: the difference in accuracy and macro F1 per set,
with a 95% bootstrap interval that resamples people, not images (a person's photos are not independent draws).

Reads the per-image CSVs of benchmarks/compare_fer.py --predictions. ckplus48 is read on the whole image, the other
sets on the detector's photo path, as the issue-14 crossdata bar reads them.

Usage: python scripts/paired_crossdata.py BASE.csv CANDIDATE.csv [--detector centerface] [--candidate-detector NAME]
           [--resamples 2000] [--seed 0]
Two detectors of one run: the same CSV twice, with --candidate-detector.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from crossdata_bar import SETS as BAR  # noqa: E402  the path the bar reads each set on

# the person in a file name (crossdata README): CK+ subject, JAFFE's woman, the Taiwanese performer, wild_dev's name
PEOPLE = {"ckplus48": r"(S\d+)_", "jaffe": r"([A-Z]+)\.", "taiwan_dev": r"(\d\d)", "wild_dev": r"(.+)_\d+\.\w+$"}


def person(set_name: str, file: str) -> str:
    """The person a crossdata image shows, from its file name (the whole name when the set has no rule)."""
    name = Path(file).name
    match = re.match(PEOPLE[set_name], name) if set_name in PEOPLE else None
    return match.group(1) if match else name


def scores(labels: np.ndarray, preds: np.ndarray, classes: list[str]) -> tuple[float, float]:
    """Accuracy and macro F1 over the set's classes (a missed face is a wrong answer), as compare_fer.py scores."""
    return float(np.mean(preds == labels)), float(f1_score(labels, preds, labels=classes, average="macro",
                                                           zero_division=0))


def paired_bootstrap(labels, base, cand, people, resamples: int = 2000, seed: int = 0) -> dict:
    """Candidate minus base, accuracy and macro F1, each with a 95% percentile interval over resampled people."""
    labels, base, cand, people = map(np.asarray, (labels, base, cand, people))
    classes = sorted(set(labels.tolist()))
    members = [np.flatnonzero(people == p) for p in np.unique(people)]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        idx = np.concatenate([members[i] for i in rng.integers(len(members), size=len(members))])
        b, c = scores(labels[idx], base[idx], classes), scores(labels[idx], cand[idx], classes)
        diffs.append((c[0] - b[0], c[1] - b[1]))
    lo, hi = np.percentile(np.array(diffs), [2.5, 97.5], axis=0)
    b, c = scores(labels, base, classes), scores(labels, cand, classes)
    return {"images": len(labels), "people": len(members), "base": b, "candidate": c,
            "accuracy": (c[0] - b[0], lo[0], hi[0]), "macro_f1": (c[1] - b[1], lo[1], hi[1]),
            "only_base_right": int(np.sum((base == labels) & (cand != labels))),
            "only_candidate_right": int(np.sum((cand == labels) & (base != labels)))}


def read_predictions(path: Path) -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """{(set, path): {file: (label, prediction)}} from a compare_fer.py --predictions CSV."""
    out: dict = {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"set", "file", "label", "path", "prediction"} <= set(rows[0]):
        raise ValueError(f"{path}: not a compare_fer.py --predictions CSV (set, file, label, path, prediction)")
    for r in rows:
        out.setdefault((r["set"], r["path"]), {})[r["file"]] = (r["label"], r["prediction"])
    return out


def compare(base: dict, cand: dict, detector: str, resamples: int, seed: int,
            cand_detector: str | None = None) -> list[tuple[str, str, dict]]:
    """(set, path, paired_bootstrap result) for every set both files hold, on the bar's path for that set."""
    rows = []
    for set_name in sorted({s for s, _ in base} & {s for s, _ in cand}):
        whole = BAR.get(set_name) == "ferx whole image"
        tool = "ferx whole image" if whole else f"ferx photo ({detector})"
        cand_tool = tool if whole else f"ferx photo ({cand_detector or detector})"
        if (set_name, tool) not in base or (set_name, cand_tool) not in cand:
            raise ValueError(f"{set_name}: the files need the paths '{tool}' and '{cand_tool}'")
        a, b = base[set_name, tool], cand[set_name, cand_tool]
        if a.keys() != b.keys() or any(a[f][0] != b[f][0] for f in a):
            raise ValueError(f"{set_name}: the two files hold different images or labels")
        files = sorted(a)
        result = paired_bootstrap([a[f][0] for f in files], [a[f][1] for f in files], [b[f][1] for f in files],
                                  [person(set_name, f) for f in files], resamples, seed)
        rows.append((set_name, tool if tool == cand_tool else f"{tool} -> {cand_tool}", result))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("candidate", type=Path)
    ap.add_argument("--detector", default="centerface")
    ap.add_argument("--candidate-detector", help="the candidate's photo path, when it is another detector's")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        rows = compare(read_predictions(args.base), read_predictions(args.candidate), args.detector, args.resamples,
                       args.seed, args.candidate_detector)
    except (OSError, ValueError, KeyError) as err:
        sys.exit(f"paired_crossdata: {err}")
    print(f"# candidate {args.candidate} minus base {args.base}; 95% intervals over {args.resamples} resamples of "
          f"people (seed {args.seed})")
    print("| set | path | people / images | accuracy base -> candidate | difference [95%] | macro F1 base -> candidate "
          "| difference [95%] | only base right / only candidate right |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for set_name, tool, r in rows:
        acc, f1 = r["accuracy"], r["macro_f1"]
        print(f"| {set_name} | {tool} | {r['people']} / {r['images']} | {r['base'][0]:.3f} -> {r['candidate'][0]:.3f} "
              f"| {acc[0]:+.3f} [{acc[1]:+.3f}, {acc[2]:+.3f}] | {r['base'][1]:.3f} -> {r['candidate'][1]:.3f} "
              f"| {f1[0]:+.3f} [{f1[1]:+.3f}, {f1[2]:+.3f}] | {r['only_base_right']} / {r['only_candidate_right']} |")


if __name__ == "__main__":
    main()
