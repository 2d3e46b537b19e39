"""The results-folder figures: training curves, confusion matrices, ROC curves (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, auc, roc_curve  # noqa: E402
from sklearn.preprocessing import label_binarize  # noqa: E402

from ..files import atomic_path  # noqa: E402
from ..model import CLASSES  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)


def plot_curve(history: list[dict], key: str, ylabel: str, title: str, path: Path, best_epoch: int) -> None:
    """Train and validation `key` per epoch, the best-validation epoch marked."""
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(epochs, [r[f"train_{key}"] for r in history], label=f"train {key} (augmented batches)")
    val = [r[f"val_{key}"] for r in history]
    has_val = not np.isnan(val).all()  # NaN throughout: trained with --val-fraction 0
    if has_val:
        ax.plot(epochs, val, label=f"validation {key}")
    ax.axvline(best_epoch, color="gray", ls="--", lw=1,
               label=f"best validation epoch ({best_epoch})" if has_val else f"checkpoint: last epoch ({best_epoch})")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_confusion(cm: np.ndarray, path: Path, normalize: bool, names: Sequence[str] = CLASSES) -> None:
    values = cm / cm.sum(1, keepdims=True).clip(min=1) if normalize else cm
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(values, display_labels=list(names)).plot(
        ax=ax, cmap="Blues", values_format=".2f" if normalize else "d", colorbar=True
    )
    ax.set_title("Confusion matrix, row-normalised (test)" if normalize else "Confusion matrix, counts (test)")
    ax.set(xlabel="predicted", ylabel="true")
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    _save(fig, path)


def plot_roc(labels: np.ndarray, probs: np.ndarray, path: Path, names: Sequence[str] = CLASSES) -> None:
    """One-vs-rest ROC per class plus micro and macro averages, AUC in the legend."""
    onehot = label_binarize(labels, classes=list(range(len(names))))
    grid = np.linspace(0, 1, 501)
    fig, ax = plt.subplots(figsize=(7, 6))
    tprs, aucs = [], []
    for i, name in enumerate(names):
        fpr, tpr, _ = roc_curve(onehot[:, i], probs[:, i])
        tprs.append(np.interp(grid, fpr, tpr))
        aucs.append(auc(fpr, tpr))
        ax.plot(fpr, tpr, lw=1, label=f"{name} (AUC {aucs[-1]:.3f})")
    fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
    ax.plot(fpr, tpr, "k--", lw=2, label=f"micro average (AUC {auc(fpr, tpr):.3f})")
    macro_tpr = np.mean(tprs, axis=0)
    # The legend's macro AUC is the mean of the class AUCs, as in metrics.json; the curve is the mean TPR.
    ax.plot(grid, macro_tpr, "k:", lw=2, label=f"macro average (AUC {np.mean(aucs):.3f})")
    ax.plot([0, 1], [0, 1], color="gray", lw=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curves, one-vs-rest (test)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_reliability(labels: np.ndarray, before: np.ndarray, after: np.ndarray, temperature: float, path: Path,
                     bins: int = 15) -> None:
    """Reliability diagrams of the top class before and after temperature scaling, with the image count per bin."""
    from .calibration import ece, reliability

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for col, (probs, name) in enumerate(((before, "before (T = 1)"), (after, f"after (T = {temperature:.3f})"))):
        r = reliability(probs, labels, bins)
        centres, width = (r["edges"][:-1] + r["edges"][1:]) / 2, 1 / bins
        ax, counts = axes[0, col], axes[1, col]
        seen = r["count"] > 0
        ax.bar(centres[seen], r["accuracy"][seen], width=width, edgecolor="k", color="#4a7bd0", label="accuracy")
        ax.bar(centres[seen], (r["confidence"] - r["accuracy"])[seen], bottom=r["accuracy"][seen], width=width,
               color="#e63c3c", alpha=0.35, edgecolor="#e63c3c", label="gap to mean confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.set(ylabel="accuracy", title=f"{name}: ECE {ece(probs, labels, bins):.4f}", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=8)
        counts.bar(centres, r["count"], width=width, edgecolor="k", color="gray")
        for c, n in zip(centres, r["count"]):
            if n:
                counts.text(c, n, str(n), ha="center", va="bottom", fontsize=6)
        counts.set(xlabel="confidence of the top class", ylabel="images")
    fig.suptitle(f"Reliability on the test split ({len(labels):,} images, {bins} bins)")
    _save(fig, path)
