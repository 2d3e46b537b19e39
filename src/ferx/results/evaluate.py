"""Evaluate weights on the test split and write the results folder (figures, report, metrics, README)."""
from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from ..data.fer2013 import load_train_test, stratified_limit
from ..errors import FerxError
from ..files import write_text
from .metrics import compute_metrics, report_text
from .plots import plot_confusion, plot_curve, plot_roc
from .report import results_readme
from ..inference.views import DEFAULT, check_mode, mode_probs, predict_views
from ..model import CLASSES
from ..weights import load_model

log = logging.getLogger(__name__)


def model_cost(model: torch.nn.Module) -> dict:
    """Parameter count and MFLOPs (multiply-adds x 2) for one 48x48 image."""
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            model(torch.zeros(1, 1, 48, 48))
    return {"params": sum(p.numel() for p in model.parameters()), "mflops": counter.get_total_flops() / 1e6}


def read_history(path: Path) -> list[dict] | None:
    if not path.exists():
        return None
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def evaluate_run(
    weights: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike,
    limit: int | None = None, seed: int = 0, tta: str = DEFAULT, command: str = "", model: str | None = None,
) -> dict:
    """Evaluate `weights` on the test split of `data` under every test-time mode; `tta` is the headline's mode.

    `model`: the variant of a plain state_dict that has no model card beside it.
    """
    started = time.time()
    out = Path(out)
    net, card = load_model(weights, model=model)
    if card.classes != list(CLASSES):
        raise FerxError(f"{weights}: the model's classes {card.classes} are not FER-2013's {list(CLASSES)}")
    test = stratified_limit(load_train_test(data)["test"], limit, seed)
    metrics: dict = {"default": check_mode(tta), "weights": str(weights), "classes": card.classes, **model_cost(net)}
    probs = mode_probs(predict_views(net, test.images))
    for key, p in probs.items():
        metrics[key] = compute_metrics(test.labels, p, card.classes)
    default = probs[metrics["default"]]
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    history = read_history(out / "history.csv")
    if history:
        summary.setdefault("best_epoch", max(history, key=lambda r: r["val_acc"])["epoch"])
        plot_curve(history, "acc", "accuracy", "Accuracy per epoch", out / "acc_performance.png", summary["best_epoch"])
        plot_curve(history, "loss", "cross-entropy loss", "Loss per epoch", out / "loss_vs_eopoch.png", summary["best_epoch"])
    summary["command"] = summary.get("command") or command
    metrics["summary"] = summary
    cm = np.array(metrics[metrics["default"]]["confusion_matrix"])
    plot_confusion(cm, out / "confusion_matrix.png", normalize=False, names=card.classes)
    plot_confusion(cm, out / "confusion_matrix_norm.png", normalize=True, names=card.classes)
    plot_roc(test.labels, default, out / "roc_curves.png", card.classes)
    write_text(out / "classification_report.txt", report_text(test.labels, default, card.classes))
    metrics["evaluate_seconds"] = time.time() - started  # on `ferx train`'s clock too, after the training time
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_text(out / "README.md", results_readme(metrics, history, summary))
    return metrics
