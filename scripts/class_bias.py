"""Does a per-class logit bias, fitted on the validation split, raise macro F1 or accuracy on test?

Usage: python scripts/class_bias.py [--weights results/best_model.pt] [--data ../shared/fer2013]
Fits one bias per class by coordinate ascent on validation macro F1 (and on accuracy), and tries
prior correction (logits - tau * log train prior); prints validation and test figures for each.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.metrics import f1_score

from ferx.data.fer2013 import load_dataset
from ferx.inference.views import predict_views
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default="results/best_model.pt")
    p.add_argument("--data", default="../shared/fer2013")
    args = p.parse_args()
    splits = load_dataset(args.data, 0.1, 0)
    model = load_weights(args.weights)
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
