"""Does a per-class logit bias, fitted on the validation split, raise macro F1 or accuracy on test?

Usage: python scripts/class_bias.py [--weights results/best_model.pt] [--data ../shared/fer2013]
Fits one bias per class by coordinate ascent on validation macro F1 (and on accuracy), and tries
prior correction (logits - tau * log train prior); prints validation and test figures for each.

    python scripts/class_bias.py --halves 4 --weights A.pt --weights B.pt ...
reads validation only: the bias is fitted to the mean of accuracy and macro F1 on one random half and scored on the
other (each half both ways, 4 random halvings), on a single pass, face + mirror and six views, for each model.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.metrics import f1_score

from ferx.data.fer2013 import load_dataset
from ferx.inference.views import NAMES, mode_probs, predict_views
from ferx.weights import load_weights


def tta_log_probs(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """Log-probabilities of face and mirror logits averaged (the default path when this was run)."""
    return torch.log_softmax(predict_views(model, images, "flip").mean(0), 1).numpy()


def fit_bias(log_probs: np.ndarray, labels: np.ndarray, score) -> np.ndarray:
    bias = np.zeros(log_probs.shape[1])
    for _ in range(3):
        for c in range(len(bias)):
            trials = []
            for d in np.linspace(-1, 1, 41):
                b = bias.copy()
                b[c] = d
                trials.append((score(labels, (log_probs + b).argmax(1)), -abs(d), d))
            bias[c] = max(trials)[2]
    return bias


def mean_score(y: np.ndarray, p: np.ndarray) -> float:
    return (np.mean(y == p) + f1_score(y, p, average="macro")) / 2


def held_out_halves(weights: list[str], data: str, halvings: int) -> None:
    """Validation only: does a bias fitted on one half raise the other half's mean of accuracy and macro F1?"""
    val = load_dataset(data, 0.1, 0)["val"]
    y = np.asarray(val.labels)
    rng = np.random.default_rng(0)
    for w in weights:
        probs = mode_probs(predict_views(load_weights(w), val.images, "views"))
        for key, name in NAMES.items():
            lp = np.log(np.clip(np.asarray(probs[key]), 1e-9, 1))
            before, after = [], []
            for _ in range(halvings):
                perm = rng.permutation(len(y))
                for fit, held in ((perm[: len(y) // 2], perm[len(y) // 2:]), (perm[len(y) // 2:], perm[: len(y) // 2])):
                    bias = fit_bias(lp[fit], y[fit], mean_score)
                    before.append(mean_score(y[held], lp[held].argmax(1)))
                    after.append(mean_score(y[held], (lp[held] + bias).argmax(1)))
            print(f"{w:60s} {name:13s} held-out mean of accuracy and macro F1: no bias {np.mean(before):.4f}, "
                  f"fitted bias {np.mean(after):.4f} ({np.mean(after) - np.mean(before):+.4f})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", action="append", help="default results/best_model.pt; repeat with --halves")
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--halves", type=int, metavar="N",
                   help="validation only: N random halvings, fit on one half, score the other")
    args = p.parse_args()
    weights = args.weights or ["results/best_model.pt"]
    if args.halves:
        return held_out_halves(weights, args.data, args.halves)
    splits = load_dataset(args.data, 0.1, 0)
    model = load_weights(weights[0])
    val, test = (tta_log_probs(model, splits[s].images) for s in ("val", "test"))
    yv, yt = splits["val"].labels, splits["test"].labels

    def report(name: str, bias: np.ndarray) -> None:
        pv, pt = (val + bias).argmax(1), (test + bias).argmax(1)
        print(f"{name:24s} val acc {np.mean(pv == yv):.4f} macro F1 {f1_score(yv, pv, average='macro'):.4f} | "
              f"test acc {np.mean(pt == yt):.4f} macro F1 {f1_score(yt, pt, average='macro'):.4f}")

    report("no bias", np.zeros(val.shape[1]))
    report("bias fit to val macro F1", fit_bias(val, yv, lambda y, p: f1_score(y, p, average="macro")))
    report("bias fit to val accuracy", fit_bias(val, yv, lambda y, p: np.mean(y == p)))
    prior = np.bincount(splits["train"].labels, minlength=val.shape[1]) / len(splits["train"])
    for tau in (0.25, 0.5, 1.0):
        report(f"prior correction tau {tau}", -tau * np.log(prior))


if __name__ == "__main__":
    main()
