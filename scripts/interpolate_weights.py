"""Interpolate a model towards its fine-tuned copy (WiSE-FT) and score every mix on the validation split.

Usage: python scripts/interpolate_weights.py START TUNED [--alphas 0,0.1,...,1] [--data ../shared/fer2013]
           [--path flip|cross|views] [--save ALPHA OUT.pt] [--run ALPHA DIR]
Prints, per alpha (0 = START, 1 = TUNED), validation accuracy, macro F1 and their mean in a single pass and on --path
(face + mirror unless told). Only the validation split is read: this script makes the choice of alpha. --save writes
that mix as a plain state_dict with the tuned run's card beside it (OUT.json). --run makes DIR a run folder of that
mix, for `ferx evaluate --weights DIR/best_model.pt --out DIR` and then scripts/release.py DIR.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np

from ferx.data.fer2013 import load_dataset
from ferx.inference.views import MODES, NAMES, mode_probs, predict_views
from ferx.results.metrics import compute_metrics
from ferx.errors import FerxError
from ferx.training.interpolate import interpolate, interpolate_files, interpolation_run
from ferx.weights import load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("start", help="weights the interpolation starts from (alpha 0)")
    p.add_argument("tuned", help="the fine-tuned weights (alpha 1)")
    p.add_argument("--alphas", default=",".join(f"{a:.1f}" for a in np.linspace(0, 1, 11)))
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--path", default="flip", choices=[m for m in MODES if m != "none"],
                   help="the path scored beside a single pass")
    p.add_argument("--save", nargs=2, metavar=("ALPHA", "OUT"), help="write theta(ALPHA) to OUT (.pt) and stop")
    p.add_argument("--run", nargs=2, metavar=("ALPHA", "DIR"), help="make DIR a run folder of theta(ALPHA) and stop")
    args = p.parse_args()
    if args.run:
        command = shlex.join(["python", "scripts/interpolate_weights.py", *sys.argv[1:]])
        try:
            out = interpolation_run(args.start, args.tuned, float(args.run[0]), args.run[1], command)
        except FerxError as exc:
            sys.exit(f"interpolate_weights: error: {exc}")
        print(f"wrote {out}/ (alpha {float(args.run[0])}); next: ferx evaluate --weights {out}/best_model.pt --out {out}")
        return
    if args.save:
        interpolate_files(args.start, args.tuned, float(args.save[0]), args.save[1])
        print(f"wrote {args.save[1]} (alpha {float(args.save[0])})")
        return
    t0 = time.time()
    val = load_dataset(args.data, args.val_fraction, args.seed)["val"]
    start, _ = load_model(args.start)
    tuned, _ = load_model(args.tuned)
    a_state, b_state = start.state_dict(), tuned.state_dict()
    print(f"validation split, {len(val)} images; theta(a) = (1 - a) * {args.start} + a * {args.tuned}")
    for alpha in (float(a) for a in args.alphas.split(",")):
        start.load_state_dict(interpolate(a_state, b_state, alpha))
        probs = mode_probs(predict_views(start, val.images, args.path), args.path)
        if "none" not in probs:  # a path without the plain face (cross) needs its own single pass
            probs["none"] = mode_probs(predict_views(start, val.images, "none"), "none")["none"]
        for key in ("none", args.path):
            m = compute_metrics(val.labels, probs[key])
            print(f"a {alpha:.2f}  {NAMES[key]:20s}  acc {m['accuracy']:.4f}  macro F1 {m['macro_f1']:.4f}  "
                  f"mean {(m['accuracy'] + m['macro_f1']) / 2:.4f}", flush=True)
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
