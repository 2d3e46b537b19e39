"""Write the results README from metrics.json and history: every number in it comes from those."""
from __future__ import annotations

import numpy as np

from ..model import CLASSES
from ..inference.views import DEFAULT, DESCRIPTIONS, NAMES

ARTEFACTS = [
    ("best_model.pt", "weights (plain `state_dict`) of the epoch with the best validation accuracy"),
    ("best_model.json", "its model card: architecture, constructor arguments, classes, input size, normalisation"),
    ("acc_performance.png", "train and validation accuracy per epoch"),
    ("loss_vs_eopoch.png", "train and validation loss per epoch"),
    ("confusion_matrix.png", "confusion matrix on the test split, counts"),
    ("confusion_matrix_norm.png", "confusion matrix, each row divided by its class's test images"),
    ("roc_curves.png", "one-vs-rest ROC curves per class, micro and macro averages"),
    ("calibration.png", "reliability diagrams (15 confidence bins, images per bin) before and after temperature scaling"),
    ("classification_report.txt", "scikit-learn's per-class precision, recall, F1 and support"),
    ("metrics.json", "every number of this page, machine-readable"),
    ("history.csv", "one row per epoch: learning rate, train/validation loss and accuracy, seconds"),
    ("config.json", "the resolved training configuration"),
]


def _curves_text(history: list[dict], best_epoch: int) -> list[str]:
    val = np.array([r["val_acc"] for r in history])
    if np.isnan(val).all():
        return [f"- No validation split (`--val-fraction 0`: every training image was trained on); the last epoch "
                f"({best_epoch} of {len(history)}) is the checkpoint. Train loss there {history[-1]['train_loss']:.4f}, "
                f"train accuracy (augmented batches, live weights) {history[-1]['train_acc']:.4f}."]
    best = val.max()
    # "Saturates": the first epoch within one point of the best validation accuracy.
    sat = history[int(np.argmax(val >= best - 0.01))]["epoch"]
    row = next(r for r in history if r["epoch"] == best_epoch)
    last = history[-1]
    return [
        f"- Validation accuracy rises from {val[0]:.3f} after epoch 1 to its best, {best:.4f}, at epoch {best_epoch} "
        f"of {len(history)}; it is within one point of that best from epoch {sat} on.",
        f"- At the best epoch the train accuracy (on augmented batches, live weights) is {row['train_acc']:.4f}, "
        f"validation {row['val_acc']:.4f}: a gap of {row['train_acc'] - row['val_acc']:+.4f}. "
        f"Validation loss there is {row['val_loss']:.4f}; at the last epoch it is {last['val_loss']:.4f}.",
        "- Validation curves are those of the weights that are checkpointed: with the default EMA, a moving "
        "average of the trained weights, which trails the live weights while the learning rate is high.",
    ]


def _confusion_text(cm: np.ndarray, names: list[str]) -> list[str]:
    norm = cm / cm.sum(1, keepdims=True).clip(min=1)
    recall = np.diag(norm)
    order = np.argsort(-recall)
    off = norm.copy()
    np.fill_diagonal(off, -1)
    n = len(names)
    pairs = sorted(((off[i, j], i, j) for i in range(n) for j in range(n) if i != j), reverse=True)[:3]
    best = ", ".join(f"{names[i]} ({recall[i]:.2f})" for i in order[:3])
    worst = ", ".join(f"{names[i]} ({recall[i]:.2f})" for i in order[::-1][:2])
    confused = "; ".join(f"{names[i]} taken for {names[j]} {v:.2f} ({cm[i, j]} images)" for v, i, j in pairs)
    return [
        f"- Best recognised (recall, the diagonal of the normalised matrix): {best}.",
        f"- Weakest: {worst}.",
        f"- Most confused pairs (share of the true class's test images): {confused}.",
    ]


def _calibration_text(c: dict, accuracy: float) -> list[str]:
    """The calibration section: which way the raw probabilities err, the temperature, ECE and NLL before and after."""
    gap = c["confidence_before"] - accuracy
    way = "over-confident" if gap > 0 else "under-confident"
    return [
        "", "## Calibration", "", "![reliability diagrams](calibration.png)", "",
        f"- Uncalibrated, the model is {way} on the test split: its top-class probability averages "
        f"{c['confidence_before']:.3f} where {accuracy:.3f} of the answers are right ({gap:+.3f}).",
        f"- One temperature T = {c['temperature']:.3f}, "
        + (f"fitted on the {c['val_images']:,} validation images (NLL, " if "temperature_from" not in c else
           f"taken from `{c['temperature_from']}` (no validation faces were left; NLL, ")
        + f"{NAMES.get(c['tta'], c['tta'])} path), divides the logits everywhere ferx returns scores "
        f"({'softens' if c['temperature'] > 1 else 'sharpens'} them; the argmax and accuracy do not change).",
        f"- Test expected calibration error (15 bins) {c['ece_before']:.4f} before, {c['ece_after']:.4f} after; "
        f"negative log likelihood {c['nll_before']:.4f} before, {c['nll_after']:.4f} after. The ROC curves and AUCs "
        "above use the uncalibrated probabilities.",
    ]


def results_readme(metrics: dict, history: list[dict] | None, summary: dict) -> str:
    """The results-folder README as Markdown."""
    m = metrics[metrics["default"]]
    names = metrics.get("classes", list(CLASSES))  # the evaluated model's classes (its card)
    cm = np.array(m["confusion_matrix"])
    aucs = m["class_auc"]
    lo, hi = min(aucs, key=aucs.get), max(aucs, key=aucs.get)
    best_epoch = summary.get("best_epoch", "?")
    mix = summary.get("interpolation")
    lines = [
        "# Mini-Xception-Emo on FER-2013: results",
        "",
        f"Test split: {m['n_images']:,} images. Checkpoint: "
        + (f"theta({mix['alpha']}) = {1 - mix['alpha']:g} x `{mix['start']}` + {mix['alpha']} x `{mix['tuned']}` (a "
           f"chosen on validation), the second being the fine-tune's epoch with the best validation accuracy (epoch "
           f"{best_epoch})" if mix
           else f"the last epoch ({best_epoch}; trained on every training image, no validation split)"
           if summary.get("epochs_run") and summary.get("best_val_acc", 0) is None
           else f"the epoch with the best validation accuracy (epoch {best_epoch})")
        + "; the test split was not used for any choice.",
        f"Prediction path: {DESCRIPTIONS[metrics['default']]}, "
        + ("the default of `ferx evaluate` and `ferx predict`." if metrics["default"] == DEFAULT
           else f"chosen by `--tta {metrics['default']}` (the default is the {NAMES[DEFAULT]})."),
        "",
        "| | accuracy | macro F1 | micro AUC | macro AUC |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, name in ((k, n) for k, n in NAMES.items() if k in metrics):  # a path added later: not in older files
        r = metrics[key]
        mark = " (default)" if key == metrics["default"] else ""
        lines.append(f"| {name}{mark} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['micro_auc']:.4f} | {r['macro_auc']:.4f} |")
    steps = summary.get("steps", summary.get("teachers")) or []  # "teachers": a metrics.json of before 2026-12-07
    if steps:  # distilled, fine-tuned or interpolated: the earlier runs come first, each after those it needs
        lines += ["", f"Made in {len(steps) + 1} steps, in this order (a teacher's or a start's run before the run "
                  "that uses it):", ""]
        for t in steps:
            took = (f", {t['train_wall_seconds'] / 60:.1f} minutes of wall time on {t.get('machine', 'a CPU')}"
                    if "train_wall_seconds" in t else "")
            lines.append(f"- `{t['weights']}`: `{t.get('command', 'command not recorded')}`{took}")
        lines += ["", "Then these weights:", ""]
    else:
        lines += ["", "Made with:", ""]
    lines += ["```", summary["command"], "```", ""]
    if "train_wall_seconds" in summary:
        lines.append(f"Training took {summary['train_wall_seconds'] / 60:.1f} minutes of wall time on "
                     f"{summary.get('machine', 'this machine')} (data loading included, test evaluation not).")
        if history:
            secs = sorted(r["seconds"] for r in history)
            lines.append(f"Epochs took {np.median(secs):.0f} s (median), {secs[0]:.0f} s to {secs[-1]:.0f} s.")
        if "evaluate_seconds" in metrics:
            paths = {2: "both", 3: "all three", 4: "all four"}.get(sum(key in metrics for key in NAMES), "all the")
            lines.append(f"Evaluating the test split under {paths} prediction paths took a further "
                         f"{metrics['evaluate_seconds'] / 60:.1f} minutes.")
        if summary.get("note"):
            lines.append(summary["note"])
        lines.append("")
    lines += ["## Artefacts", "", "| file | what it holds |", "|---|---|"]
    lines += [f"| `{name}` | {what} |" for name, what in ARTEFACTS]
    lines += [
    ]
    if history:
        lines += ["", "## Training curves", "", "![accuracy](acc_performance.png)", "", "![loss](loss_vs_eopoch.png)", "",
                  *([f"- The fine-tune's curves (`{mix['tuned']}`), the run these weights are interpolated towards."]
                    if mix else []), *_curves_text(history, best_epoch)]
    lines += [
        "", "## Confusion matrices", "", "![confusion matrix](confusion_matrix.png)", "",
        "![normalised confusion matrix](confusion_matrix_norm.png)", "", *_confusion_text(cm, names),
        "", "## ROC curves", "", "![ROC curves](roc_curves.png)", "",
        f"- One-vs-rest AUC ranges from {aucs[lo]:.3f} ({lo}) to {aucs[hi]:.3f} ({hi}); "
        f"micro average {m['micro_auc']:.3f}, macro average {m['macro_auc']:.3f}.",
        *(_calibration_text(metrics["calibration"], m["accuracy"]) if "calibration" in metrics else []),
        "", "## Classification report", "",
        "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|",
    ]
    for c in names:
        r = m["per_class"][c]
        lines.append(f"| {c} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1-score']:.4f} | {int(r['support'])} |")
    lines += [
        "",
        f"Overall accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}, weighted F1 {m['weighted_f1']:.4f}.",
        "", "## Loading the weights", "", "```python", "import torch", "from ferx import MiniXception", "",
        f"model = MiniXception(num_classes={len(names)})",
        'model.load_state_dict(torch.load("results/best_model.pt", map_location="cpu"))',
        "model.eval()  # input: (N, 1, 48, 48) float pixels in [0, 1]; output: logits over",
        f"# {', '.join(names)}", "```", "",
    ]
    return "\n".join(lines)
