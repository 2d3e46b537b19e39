"""Test-split metrics from labels and class probabilities (scikit-learn does the arithmetic)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, roc_auc_score
from sklearn.preprocessing import label_binarize

from ..model import CLASSES


def compute_metrics(labels: np.ndarray, probs: np.ndarray, names: Sequence[str] = CLASSES) -> dict:
    """Accuracy, F1, per-class report, confusion matrix and one-vs-rest ROC AUCs (micro and macro).

    `names`: the model's classes, in its output order (labels index them).
    """
    pred = probs.argmax(1)
    classes = list(range(len(names)))
    onehot = label_binarize(labels, classes=classes)
    report = classification_report(labels, pred, labels=classes, target_names=list(names), output_dict=True, zero_division=0)
    return {
        "n_images": int(len(labels)),
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro")),
        "weighted_f1": float(f1_score(labels, pred, average="weighted")),
        "micro_auc": float(roc_auc_score(onehot, probs, average="micro")),
        "macro_auc": float(roc_auc_score(onehot, probs, average="macro")),
        "class_auc": {c: float(roc_auc_score(onehot[:, i], probs[:, i])) for i, c in enumerate(names)},
        "per_class": {c: {k: float(v) for k, v in report[c].items()} for c in names},
        "confusion_matrix": confusion_matrix(labels, pred, labels=classes).tolist(),
    }


def report_text(labels: np.ndarray, probs: np.ndarray, names: Sequence[str] = CLASSES) -> str:
    """scikit-learn's classification report as text, four decimals."""
    return classification_report(labels, probs.argmax(1), labels=list(range(len(names))), target_names=list(names),
                                 digits=4, zero_division=0)
