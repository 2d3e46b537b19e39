"""Print the experiments table (config -> best val acc -> test acc -> minutes) from run folders.

Usage: python scripts/experiments_table.py results docs/experiments/*   > table.md
Each folder holds the config.json, history.csv and metrics.json that `ferx train` wrote.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ferx.training.augment import AugmentConfig
from ferx.results.evaluate import read_history


def augment_text(aug: dict) -> str:
    """The augmentation settings that differ from today's defaults, or ""."""
    names = {"flip": "flip p", "max_shift": "shift", "max_rotate": "rotate", "scale": "scale", "erase": "erase p",
             "light": "light"}
    changed = []
    for key, name in names.items():
        value, default = aug.get(key), getattr(AugmentConfig(), key)
        if isinstance(value, list):
            value = tuple(value)
        if value is not None and value != default:
            text = "-".join(f"{v:g}" for v in value) if isinstance(value, tuple) else f"{value:g}"
            changed.append(f"{name} {text}")
    return f", augmentation {', '.join(changed)}" if changed else ""


def row(run: Path) -> str:
    cfg = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    history = read_history(run / "history.csv")
    best = max(history, key=lambda r: r["val_acc"])
    s = metrics.get("summary", {})
    minutes = s.get("train_wall_seconds", sum(r["seconds"] for r in history)) / 60
    limit = f", limit {cfg['limit']}" if cfg.get("limit") else ""
    config = (f"{cfg['model']} ({metrics['params'] / 1e3:.0f}K params), {cfg['epochs']} epochs{limit}, "
              f"bs {cfg['batch_size']}, lr {cfg['lr']:g}, wd {cfg['weight_decay']:g}, ls {cfg['label_smoothing']:g}, "
              f"EMA {cfg['ema_decay']:g}" + (" with warm-up" if cfg.get("ema_warmup") else "")
              + (f", mixup {cfg['mixup_alpha']:g}" if cfg.get("mixup_alpha") else "")
              + (f", class weight count^-{cfg['class_weight_power']:g}" if cfg.get("class_weight_power") else "")
              + augment_text(cfg.get("augment", {})))
    t, n, v = metrics["flip"], metrics["none"], metrics.get("views")
    views = f"{v['accuracy']:.4f} / {v['macro_f1']:.4f}" if v else ""
    return (f"| `{run}` | {config} | {best['val_acc']:.4f} (epoch {int(best['epoch'])}) | {n['accuracy']:.4f} | "
            f"{t['accuracy']:.4f} | {t['macro_f1']:.4f} | {t['micro_auc']:.4f} | {views} | {minutes:.1f} |")


if __name__ == "__main__":
    print("| run | configuration | best val acc | test acc | test acc, flip TTA | macro F1, flip TTA | micro AUC, flip TTA "
          "| test acc / macro F1, six views | minutes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for arg in sys.argv[1:]:
        print(row(Path(arg)))
