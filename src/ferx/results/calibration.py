"""Probability calibration: one softmax temperature fitted on validation logits (Guo et al., 2017), ECE, reliability bins.

The temperature divides the logits of the prediction path it was fitted on; the argmax, and so accuracy, is unchanged.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

BINS = 15
# log T is searched in [-3, 3] (T from 0.05 to 20): wide enough for any trained model, finite for degenerate logits.
LOG_T_BOUNDS = (-3.0, 3.0)


def _tensors(logits, labels) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(np.asarray(logits), dtype=torch.float64), torch.as_tensor(np.asarray(labels), dtype=torch.long)


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities softmax(logits / temperature), float64."""
    return torch.softmax(torch.as_tensor(np.asarray(logits), dtype=torch.float64) / temperature, 1).numpy()


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log likelihood of the labels under softmax(logits / temperature)."""
    z, y = _tensors(logits, labels)
    return float(F.cross_entropy(z / temperature, y))


def fit_temperature(logits, labels) -> float:
    """The temperature minimising the NLL of (N, C) logits and (N,) labels (a 1-D search over log T)."""
    z, y = _tensors(logits, labels)
    res = minimize_scalar(lambda t: float(F.cross_entropy(z / np.exp(t), y)), bounds=LOG_T_BOUNDS, method="bounded",
                          options={"xatol": 1e-5})
    return float(np.exp(res.x))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict[str, np.ndarray]:
    """Per confidence bin (equal widths over [0, 1]): image count, mean confidence and accuracy of the top class."""
    conf, correct = probs.max(1), (probs.argmax(1) == labels).astype(np.float64)
    # Bin i holds confidences in (i / bins, (i + 1) / bins]; a confidence of exactly 0 joins the first bin.
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, bins) / count
        accuracy = np.bincount(which, correct, bins) / count
    return {"edges": np.linspace(0, 1, bins + 1), "count": count, "confidence": mean_conf, "accuracy": accuracy}


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over the bins."""
    r = reliability(probs, labels, bins)
    seen = r["count"] > 0
    return float(np.sum(r["count"][seen] * np.abs(r["accuracy"][seen] - r["confidence"][seen])) / len(labels))


def calibration_metrics(temperature: float, logits, labels, bins: int = BINS) -> dict:
    """ECE and NLL of `logits` before (T = 1) and after dividing by `temperature`."""
    before, after = softmax(logits), softmax(logits, temperature)
    return {"temperature": float(temperature),
            "ece_before": ece(before, labels, bins), "ece_after": ece(after, labels, bins),
            "nll_before": nll(logits, labels), "nll_after": nll(logits, labels, temperature)}
