"""ferx beside the `fer` package on the same crossdata images: faces found, accuracy and macro F1 per set
(whole image as the face, and each tool's own photo path: its detector, then the largest face), ms per photo.

Installs nothing. `fer` runs in its own venv (TensorFlow), made once as the README says:

    python3 -m venv /work/fer-venv && /work/fer-venv/bin/pip install fer==25.10.3 --no-deps
    /work/fer-venv/bin/pip install tensorflow-cpu "opencv-python-headless<5" requests Pillow "setuptools<81"
    nice -n 19 python benchmarks/compare_fer.py [--fer-python /work/fer-venv/bin/python] [--detectors centerface,ssd,haar]
        [--weights CANDIDATE.pt] [--tta views|cross|flip|none] [--predictions PER-IMAGE.csv]

Both tools get the decoded image (BGR for fer, RGB for ferx); the time is the call that detects and classifies.
A photo where a tool finds no face counts wrong; macro F1 is over the classes the set has.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.metrics import f1_score

from ferx import EmotionRecognizer
from ferx.data.folders import scan_labelled_folder
from ferx.files import atomic_path
from ferx.inference.faces import DEFAULT_DETECTOR
from ferx.inference.images import load_rgb
from ferx.inference.views import DEFAULT, MODES

from detectors import build  # benchmarks/detectors.py: a detector from a name or name:key=value

ROOT = Path(__file__).resolve().parents[2] / "shared" / "crossdata"
SETS = ("ckplus48", "jaffe", "taiwan_dev", "wild_dev")
HERE = Path(__file__).resolve().parent


def largest(faces: list) -> str | None:
    """The emotion of the largest face, None when there is none."""
    if not faces:
        return None
    f = max(faces, key=lambda f: f["box"][2] * f["box"][3])
    return f["emotion"]


def score(labels: list[str], preds: list[str | None]) -> dict:
    present = sorted(set(labels))
    pred = [p if p is not None else "no face" for p in preds]
    return {
        "found": sum(p is not None for p in preds),
        "accuracy": float(np.mean([p == t for p, t in zip(pred, labels)])),
        "macro_f1": float(f1_score(labels, pred, labels=present, average="macro", zero_division=0)),
    }


def run_ferx(files, detector, weights=None, tta: str = DEFAULT) -> tuple[list, list]:
    rec = EmotionRecognizer(weights, detector=detector, tta=tta)
    preds, ms = [], []
    for path, _ in files:
        rgb = load_rgb(path)
        t = time.perf_counter()
        faces = rec.predict(rgb)
        ms.append(1000 * (time.perf_counter() - t))
        preds.append(largest([{"box": f.box, "emotion": f.emotion} for f in faces]))
    return preds, ms


def run_fer(files, python: str) -> list[dict]:
    proc = subprocess.run([python, str(HERE / "fer_worker.py")], input="\n".join(str(p) for p, _ in files) + "\n",
                          capture_output=True, text=True, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crossdata", type=Path, default=ROOT)
    ap.add_argument("--fer-python", default=os.environ.get("FER_PYTHON", "/work/fer-venv/bin/python"))
    ap.add_argument("--detectors", default=DEFAULT_DETECTOR,
                    help="ferx detectors for the photo path, comma-separated: names or name:key=value:... (as "
                         "benchmarks/detectors.py takes them)")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--weights", help="ferx weights other than the packaged model (a candidate before its release)")
    ap.add_argument("--tta", default=DEFAULT, choices=list(MODES), help="ferx's prediction path (default: the product's)")
    ap.add_argument("--every", type=int, default=1, help="every N-th image of each set (sorted by path) for a quicker look")
    ap.add_argument("--json", help="also write every figure here")
    ap.add_argument("--predictions", help="also write every image's prediction per path here (CSV: set, file, label, "
                                          "path, prediction), for scripts/paired_crossdata.py")
    args = ap.parse_args(argv)
    rows, everything, per_image = [], {}, []
    for name in args.sets.split(","):
        files = scan_labelled_folder(args.crossdata / name)[:: args.every]
        labels = [c for _, c in files]
        fer = run_fer(files, args.fer_python) if args.fer_python and Path(args.fer_python).exists() else None
        whole, _ = run_ferx(files, None, args.weights, args.tta)
        result = {"images": len(files), "ferx whole image": score(labels, whole)}
        paths = {"ferx whole image": whole}
        for det in args.detectors.split(","):
            preds, ms = run_ferx(files, build(det), args.weights, args.tta)
            result[f"ferx photo ({det})"] = {**score(labels, preds), "ms_median": float(np.median(ms))}
            paths[f"ferx photo ({det})"] = preds
        per_image += [(name, Path(f).relative_to(args.crossdata / name).as_posix(), label, tool, pred or "no face")
                      for tool, preds in paths.items() for (f, label), pred in zip(files, preds)]
        if fer is not None:
            assert [r["path"] for r in fer] == [str(p) for p, _ in files], "fer worker lost images"
            result["fer whole image"] = score(labels, [largest(r["whole"]) for r in fer])
            result["fer photo (haar)"] = {**score(labels, [largest(r["faces"]) for r in fer]),
                                          "ms_median": float(np.median([r["ms"] for r in fer]))}
        everything[name] = result
        for tool, r in result.items():
            if tool != "images":
                ms = f"{r['ms_median']:.1f}" if "ms_median" in r else ""
                rows.append(f"| {name} | {tool} | {r['found']}/{len(files)} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {ms} |")
        print(f"{name} done", flush=True)
    print("| set | tool, path | faces found | accuracy | macro F1 | ms per photo (median) |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=2) + "\n")
    if args.predictions:
        with atomic_path(args.predictions) as tmp, open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([("set", "file", "label", "path", "prediction"), *per_image])


if __name__ == "__main__":
    main()
