"""Subject-independent K-fold cross-validation on a labelled folder: train (or just score) per fold, summarise."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

from ..data.splits import folds, load_labelled, with_validation
from ..errors import FerxError
from ..files import write_text
from ..inference.views import DESCRIPTIONS, check_mode, mode_probs, predict_views
from ..weights import load_weights
from .finetune import initial_model
from .train import TrainConfig, fit

log = logging.getLogger(__name__)


def _scores(labels: np.ndarray, pred: np.ndarray) -> dict:
    present = np.unique(labels)  # macro F1 over the classes this fold's test images have
    return {"accuracy": float(accuracy_score(labels, pred)),
            "macro_f1": float(f1_score(labels, pred, labels=present, average="macro", zero_division=0))}


def crossval(cfg: TrainConfig, k: int, tta: str = "views", command: str = "", as_is: bool = False) -> dict:
    """Train on K-1 folds and test on the K-th, for each fold (no subject in two folds when cfg.group_regex is set).

    `as_is` scores the starting model (cfg.init) without training. Writes OUT/crossval.json and OUT/README.md.
    """
    tta = check_mode(tta)
    out = Path(cfg.out)
    if (Path(cfg.data) / "train").is_dir() and (Path(cfg.data) / "test").is_dir():
        raise FerxError(f"{cfg.data}: has train/ and test/; crossval folds one folder DIR/<class>/ (give DIR/train)")
    whole = load_labelled(cfg.data, cfg.detect, cfg.group_regex)
    labels, classes = whole.split.labels, whole.classes
    rows, pooled_true, pooled_pred = [], [], []
    for i, (tr, te) in enumerate(folds(labels, whole.groups, k, cfg.val_seed), start=1):
        t0 = time.time()
        fold_cfg = replace(cfg, out=str(out / f"fold{i}"))
        splits = with_validation(whole.split.subset(tr), whole.groups[tr], whole.split.subset(te), cfg.val_fraction,
                                 cfg.val_seed, cfg.limit)
        row = {"fold": i, "train": len(splits["train"]), "val": len(splits["val"]), "test": len(splits["test"]),
               "test_subjects": sorted(set(whole.groups[te].tolist()))[:20]}
        if not as_is:
            torch.manual_seed(cfg.seed)
            summary = fit(fold_cfg, splits, *initial_model(cfg.model, classes, cfg.init))
            net = load_weights(Path(fold_cfg.out) / "best_model.pt")
            row.update(best_epoch=summary["best_epoch"], best_val_acc=summary["best_val_acc"])
        else:
            net = initial_model(cfg.model, classes, cfg.init)[0].eval()
        pred = mode_probs(predict_views(net, splits["test"].images, tta), tta)[tta].argmax(1)  # only tta's views
        row.update(_scores(splits["test"].labels, pred), seconds=time.time() - t0)
        rows.append(row)
        pooled_true.append(splits["test"].labels)
        pooled_pred.append(pred)
        log.info("fold %d/%d: test %d images, accuracy %.4f, macro F1 %.4f (%.0f s)", i, k, row["test"],
                 row["accuracy"], row["macro_f1"], row["seconds"])
    acc, f1 = np.array([r["accuracy"] for r in rows]), np.array([r["macro_f1"] for r in rows])
    result = {"data": cfg.data, "classes": classes, "folds": k, "group_regex": cfg.group_regex, "init": cfg.init,
              "epochs": 0 if as_is else cfg.epochs, "tta": tta, "command": command, "per_fold": rows,
              "mean": {"accuracy": float(acc.mean()), "accuracy_std": float(acc.std()),
                       "macro_f1": float(f1.mean()), "macro_f1_std": float(f1.std())},
              "pooled": _scores(np.concatenate(pooled_true), np.concatenate(pooled_pred)),
              "seconds": sum(r["seconds"] for r in rows), "config": asdict(cfg)}
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "crossval.json", json.dumps(result, indent=2) + "\n")
    write_text(out / "README.md", crossval_readme(result))
    return result


def crossval_readme(r: dict) -> str:
    """The results folder's README: how it was made, then one row per fold and the mean."""
    start = "as it is (no training)" if r["epochs"] == 0 else (
        f"fine-tuned from {r['init']}" if r["init"] else "trained from scratch")
    split = f"by subject (`{r['group_regex']}`)" if r["group_regex"] else "by image (no subject regex given)"
    lines = [f"# {r['folds']}-fold cross-validation on {r['data']}", "",
             f"Model {start}; folds stratified and split {split}, seeded; classes: {', '.join(r['classes'])}. "
             f"Prediction path: {DESCRIPTIONS[r['tta']]}. Macro F1 is over the classes each fold's test images have.",
             "", "```", r["command"], "```", "",
             "| fold | train | val | test | accuracy | macro F1 | seconds |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for f in r["per_fold"]:
        lines.append(f"| {f['fold']} | {f['train']} | {f['val']} | {f['test']} | {f['accuracy']:.4f} "
                     f"| {f['macro_f1']:.4f} | {f['seconds']:.0f} |")
    m, p = r["mean"], r["pooled"]
    lines += [f"| mean ± std | | | | {m['accuracy']:.4f} ± {m['accuracy_std']:.4f} "
              f"| {m['macro_f1']:.4f} ± {m['macro_f1_std']:.4f} | {r['seconds']:.0f} |",
              f"| all test folds pooled | | | | {p['accuracy']:.4f} | {p['macro_f1']:.4f} | |", ""]
    return "\n".join(lines)
