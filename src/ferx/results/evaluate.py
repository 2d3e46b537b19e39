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

from ..data.fer2013 import Split, load_dataset, load_train_test, stratified_limit
from ..errors import FerxError
from ..files import write_text
from .calibration import calibration_metrics, fit_temperature, nll, softmax
from .lineage import made_by
from .metrics import compute_metrics, report_text
from .plots import plot_confusion, plot_curve, plot_reliability, plot_roc
from .report import results_readme
from ..inference.views import DEFAULT, check_mode, mode_probs, mode_rows, predict_views
from ..model import CLASSES
from ..weights import ModelCard, card_path, load_model, load_model_card, save_card

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
    test: Split | None = None, val: Split | None = None, val_fraction: float = 0.1, val_limit: int | None = None,
    temperature_from: str | os.PathLike | None = None,
) -> dict:
    """Evaluate `weights` on the test split of `data` under every test-time mode; `tta` is the headline's mode.

    `model`: the variant of a plain state_dict that has no model card beside it. `limit` caps the test images (and
    the validation images of the temperature); `val_limit` is a training run's own --limit, which shaped its split.
    Probabilities are calibrated on `val` (for FER-2013: the seeded `val_fraction` of train, as `ferx train` splits it;
    none given with a `test` of another data set: no calibration): one temperature for the headline's path.
    `temperature_from`: weights whose card's temperature is taken instead (for a run left without validation faces).
    """
    started = time.time()
    out = Path(out)
    net, card = load_model(weights, model=model)
    if test is None:  # FER-2013's test split; `test` (labels indexing the card's classes) for any other data set
        if card.classes != list(CLASSES):
            raise FerxError(f"{weights}: the model's classes {card.classes} are not FER-2013's {list(CLASSES)}")
        splits = load_dataset(data, val_fraction, seed, val_limit)
        test = stratified_limit(splits["test"] if val_limit is None else load_train_test(data)["test"], limit, seed)
        if val is None:  # a quick look (--limit) fits the temperature on as few validation images
            val = splits["val"] if val_limit is not None else stratified_limit(splits["val"], limit, seed)
    metrics: dict = {"default": check_mode(tta), "weights": str(weights), "classes": card.classes, **model_cost(net)}
    stack = predict_views(net, test.images, "views")  # every path: the six views hold every mode's
    probs = mode_probs(stack)
    for key, p in probs.items():
        metrics[key] = compute_metrics(test.labels, p, card.classes)
    default = probs[metrics["default"]]
    # A training run's summary and curves in `out` describe these weights only if they are that run's best_model.pt;
    # otherwise the README is of this evaluation alone (never two runs mixed).
    own_run = Path(weights).resolve() == (out / "best_model.pt").resolve()
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if own_run and summary_path.exists() else {}
    history = read_history(out / "history.csv") if own_run else None
    if history:
        summary.setdefault("best_epoch", max(history, key=lambda r: (r["val_acc"], r["epoch"]))["epoch"])
        plot_curve(history, "acc", "accuracy", "Accuracy per epoch", out / "acc_performance.png", summary["best_epoch"])
        plot_curve(history, "loss", "cross-entropy loss", "Loss per epoch", out / "loss_vs_eopoch.png", summary["best_epoch"])
    summary["command"] = summary.get("command") or command
    if own_run:
        summary["steps"] = made_by(out / "best_model.pt")[:-1]  # the earlier runs: teachers, --init, interpolated ends
    metrics["summary"] = summary
    cm = np.array(metrics[metrics["default"]]["confusion_matrix"])
    plot_confusion(cm, out / "confusion_matrix.png", normalize=False, names=card.classes)
    plot_confusion(cm, out / "confusion_matrix_norm.png", normalize=True, names=card.classes)
    plot_roc(test.labels, default, out / "roc_curves.png", card.classes)
    write_text(out / "classification_report.txt", report_text(test.labels, default, card.classes))
    if temperature_from is not None or (val is not None and len(val)):  # --val-fraction 0 leaves no validation
        metrics["calibration"] = calibrate(net, card, val, stack[mode_rows(metrics["default"])].mean(0), test.labels,
                                           metrics["default"], out, temperature_from)
        store_temperature(weights, out, card)
    metrics["evaluate_seconds"] = time.time() - started  # on `ferx train`'s clock too, after the training time
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_text(out / "README.md", results_readme(metrics, history, summary))
    return metrics


def calibrate(net: torch.nn.Module, card: ModelCard, val: Split | None, test_logits: torch.Tensor,
              test_labels: np.ndarray, mode: str, out: Path, temperature_from: str | os.PathLike | None = None) -> dict:
    """Fit the temperature of path `mode` on `val` (or take `temperature_from`'s card's), set it on `card`, measure it
    on the test logits, draw calibration.png."""
    if temperature_from is None:
        val_logits = predict_views(net, val.images, mode).mean(0)
        card.temperature = fit_temperature(val_logits, val.labels)
        fitted = {"val_images": len(val), "val_nll_before": nll(val_logits, val.labels),
                  "val_nll_after": nll(val_logits, val.labels, card.temperature)}
    else:
        card.temperature = load_model_card(temperature_from).temperature
        fitted = {"val_images": 0, "temperature_from": str(temperature_from)}
    before, after = softmax(test_logits), softmax(test_logits, card.temperature)
    plot_reliability(test_labels, before, after, card.temperature, out / "calibration.png")
    return {**calibration_metrics(card.temperature, test_logits, test_labels), "tta": mode,
            "confidence_before": float(before.max(1).mean()), "confidence_after": float(after.max(1).mean()), **fitted}


def store_temperature(weights: str | os.PathLike, out: Path, card: ModelCard) -> None:
    """A run's own weights (a plain state_dict with its card, in `out`) keep the fitted temperature in their card."""
    sidecar = card_path(weights)
    if sidecar.is_file() and sidecar.resolve().parent == out.resolve():
        save_card(card, sidecar)
