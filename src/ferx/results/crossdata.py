"""Evaluate a model on any labelled folder DIR/<class>/ (another data set than FER-2013) into a results folder.

The whole image is the face, or with `detect` the largest face a detector finds; an image with no face found
counts as wrong ("no face" in the confusion matrix). Macro averages cover the classes the set has; a folder
class the model does not know (e.g. contempt) is left out and counted in metrics.json.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score, roc_auc_score
from sklearn.preprocessing import label_binarize

from ..data.folders import load_labelled_folder
from ..errors import FerxError
from ..files import write_text
from ..inference.faces import DEFAULT_DETECTOR
from ..inference.views import DEFAULT, NAMES, check_mode, mode_probs, predict_views
from ..weights import load_model, pretrained_path
from .plots import plot_confusion, plot_roc

log = logging.getLogger(__name__)
NO_FACE = "no face"


def is_labelled_folder(data: str | os.PathLike) -> bool:
    """A folder DIR/<class>/ rather than FER-2013 (fer2013.csv, or a folder with train/ and test/)."""
    root = Path(data)
    return root.is_dir() and not ((root / "train").is_dir() and (root / "test").is_dir())


def folder_metrics(labels: np.ndarray, probs: np.ndarray, found: np.ndarray, names: Sequence[str]) -> dict:
    """Accuracy (misses wrong), macro F1 over the classes present, per-class report, confusion matrix, AUC where defined.

    `labels` index `names` (the model's classes); `found` False marks images where no face was found.
    """
    names = list(names)
    present = sorted(set(labels.tolist()))
    pred = np.where(found, probs.argmax(1), len(names))  # index len(names): "no face"
    report = classification_report(labels, pred, labels=present, target_names=[names[i] for i in present],
                                   output_dict=True, zero_division=0)
    out = {
        "n_images": int(len(labels)),
        "faces_found": int(found.sum()),
        "missed": int((~found).sum()),
        "classes_present": [names[i] for i in present],
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1_score(labels, pred, labels=present, average="macro", zero_division=0)),
        "per_class": {names[i]: {k: float(v) for k, v in report[names[i]].items()} for i in present},
        "confusion_matrix": confusion_matrix(labels, pred, labels=list(range(len(names) + 1))).tolist(),
    }
    # ROC over the faces found, for the classes present (a class needs positives and negatives to have one)
    sub = [i for i in present if 0 < (labels[found] == i).sum() < found.sum()]
    if len(sub) >= 2:
        onehot = label_binarize(labels[found], classes=list(range(len(names))))
        out["class_auc"] = {names[i]: float(roc_auc_score(onehot[:, i], probs[found, i])) for i in sub}
        out["macro_auc"] = float(np.mean(list(out["class_auc"].values())))
        out["micro_auc"] = float(roc_auc_score(onehot[:, sub].ravel(), probs[found][:, sub].ravel()))
    return out


def evaluate_folder(
    data: str | os.PathLike, out: str | os.PathLike, weights: str | os.PathLike | None = None,
    detect: str | Callable | None = None, tta: str = DEFAULT, command: str = "", model: str | None = None,
) -> dict:
    """Evaluate `weights` (default: the packaged model) on a labelled folder under every test-time mode; write `out`."""
    started = time.time()
    out = Path(out)
    weights = pretrained_path() if weights is None else weights
    detect = DEFAULT_DETECTOR if detect == "default" else detect
    net, card = load_model(weights, model=model)
    images, labels, folder_classes, found = load_labelled_folder(data, detector=detect)
    known = [c in card.classes for c in folder_classes]
    keep = np.array([known[i] for i in labels], dtype=bool)
    skipped = {c: int((labels == i).sum()) for i, c in enumerate(folder_classes) if not known[i]}
    if not keep.any():
        raise FerxError(f"{data}: none of its classes {folder_classes} is one the model knows {card.classes}")
    if skipped:
        log.warning("left out %s: classes the model does not know", skipped)
    images, found = images[keep], found[keep]
    labels = np.array([card.classes.index(folder_classes[i]) for i in labels[keep]], dtype=np.int64)
    metrics: dict = {
        "data": str(data), "weights": str(weights), "default": check_mode(tta), "classes": card.classes,
        "detector": _detector_name(detect), "skipped_classes": skipped, "command": command,
    }
    probs = mode_probs(predict_views(net, images, "views"))
    for key, p in probs.items():
        metrics[key] = folder_metrics(labels, p, found, card.classes)
    head = metrics[metrics["default"]]
    names = card.classes + ([NO_FACE] if head["missed"] else [])
    cm = np.array(head["confusion_matrix"])[: len(names), : len(names)]
    plot_confusion(cm, out / "confusion_matrix.png", normalize=False, names=names)
    plot_confusion(cm, out / "confusion_matrix_norm.png", normalize=True, names=names)
    present = [card.classes.index(c) for c in head["classes_present"]]
    if "micro_auc" in head and len(present) >= 3:  # plot_roc's one-vs-rest needs three classes or more
        sub = probs[metrics["default"]][found][:, present]
        lab = np.searchsorted(present, labels[found])
        plot_roc(lab, sub / sub.sum(1, keepdims=True), out / "roc_curves.png", head["classes_present"])
    pred = np.where(found, probs[metrics["default"]].argmax(1), len(card.classes))
    write_text(out / "classification_report.txt", classification_report(
        labels, pred, labels=present, target_names=head["classes_present"], digits=4, zero_division=0))
    metrics["evaluate_seconds"] = time.time() - started
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_text(out / "README.md", folder_readme(metrics))
    return metrics


def _detector_name(detect) -> str | None:
    if detect is None or isinstance(detect, str):
        return detect
    return getattr(detect, "name", type(detect).__name__)


def folder_readme(m: dict) -> str:
    """The results folder's README for a labelled folder: what was measured and the headline numbers."""
    head = m[m["default"]]
    how = f"faces cropped by the `{m['detector']}` detector" if m["detector"] else "the whole image as the face"
    lines = [
        f"# Evaluation on {m['data']}", "",
        f"Weights `{m['weights']}`, {how}; headline path `{m['default']}`. Command: `{m['command'] or 'n/a'}`.", "",
        f"{head['n_images']} images of the classes {', '.join(head['classes_present'])}; faces found in "
        f"{head['faces_found']}, missed {head['missed']} (counted wrong, \"no face\" in the confusion matrix).", "",
        "| path | accuracy | macro F1 (classes present) | micro AUC (faces found) |", "|---|---:|---:|---:|",
    ]
    for key in NAMES:
        if key in m:
            r = m[key]
            auc = f"{r['micro_auc']:.4f}" if "micro_auc" in r else "n/a"
            lines.append(f"| {key}{' (default)' if key == m['default'] else ''} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {auc} |")
    if m["skipped_classes"]:
        lines += ["", f"Left out (classes the model does not know): {m['skipped_classes']}."]
    lines += ["", "Files: `confusion_matrix.png`, `confusion_matrix_norm.png`, `classification_report.txt`, "
              "`metrics.json`" + (", `roc_curves.png` (one-vs-rest over the classes present, faces found)."
                                  if "micro_auc" in head and len(head["classes_present"]) >= 3 else ".")]
    return "\n".join(lines) + "\n"
