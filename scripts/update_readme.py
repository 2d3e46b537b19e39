"""Rewrite the generated blocks of README.md from results/metrics.json (never type a metric by hand).

Usage: python scripts/update_readme.py        (tests/test_pretrained.py checks the blocks are current)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ferx.inference.views import NAMES

ROOT = Path(__file__).resolve().parents[1]


PUBLISHED = {"accuracy": 0.69, "macro_f1": 0.68, "micro_auc": 0.91}  # the published results folder's README


def comparison(m: dict) -> str:
    """Which published numbers the default path beats, stated from the numbers themselves."""
    names = {"accuracy": "accuracy", "macro_f1": "macro F1", "micro_auc": "micro AUC"}
    parts = [f"{names[k]} {m[k]:.3f} vs {v:.2f} ({'better' if round(m[k], 2) > v else 'not better'})" for k, v in PUBLISHED.items()]
    return "Against the published folder, on the default path: " + "; ".join(parts) + "."


def made_text(summary: dict) -> str:
    """How the model was made: one training run, or the last of several steps (results/README.md has them all)."""
    steps = summary.get("steps", summary.get("teachers")) or []
    took = (f" in {summary['train_wall_seconds'] / 60:.1f} minutes of wall time on {summary['machine']}"
            if "train_wall_seconds" in summary else "")
    if not steps:
        return f"Trained by `{summary['command']}`{took}"
    return (f"Made in {len(steps) + 1} steps (each one's command and wall time: results/README.md), the last "
            f"`{summary['command']}`{took}")


def headline_block(metrics: dict) -> str:
    s = metrics["summary"]
    mix = s.get("interpolation")
    checkpoint = (f"theta({mix['alpha']}) towards the fine-tune's best validation epoch {s['best_epoch']}" if mix
                  else f"best validation epoch {s['best_epoch']} of {s['epochs_run']}" if s.get("best_val_acc") is not None
                  else f"on train + validation with `--val-fraction 0`: the last epoch, {s['best_epoch']} of {s['epochs_run']}")
    rows = [
        "| model | params | test accuracy | macro F1 | micro AUC |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in (k for k in NAMES if k in metrics):  # a path added later is not in an older metrics.json
        m, name = metrics[key], f"ferx Mini-Xception-Emo, {NAMES[key]}"
        default = " (default)" if key == metrics["default"] else ""
        rows.append(f"| {name}{default} | {metrics['params'] / 1e3:.0f}K | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['micro_auc']:.3f} |")
    rows += [
        f"| published Mini-Xception-Emo results folder | | {PUBLISHED['accuracy']} | {PUBLISHED['macro_f1']} | {PUBLISHED['micro_auc']} |",
        "| Arriaga et al. 2017 (mini-Xception paper) | ~60K | 0.66 | | |",
        "",
        f"{metrics['mflops']:.1f} MFLOPs per 48x48 face. {made_text(s)} ({checkpoint}), then evaluated in "
        f"{metrics['evaluate_seconds'] / 60:.1f} more; all on the 7,178-image test split, "
        "which no choice looked at. Details: [results/README.md](results/README.md); experiments: "
        "[docs/experiments.md](docs/experiments.md).",
        "",
        comparison(metrics[metrics["default"]]),
    ]
    return "\n".join(rows)


def render(readme: str, name: str, block: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md: no <!-- {name}:start --> ... <!-- {name}:end --> block")
    return pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), readme)


def updated_readme(root: Path = ROOT, metrics: dict | None = None) -> str:
    """README.md of `root` with its headline from `metrics` (default: root/results/metrics.json)."""
    metrics = metrics if metrics is not None else json.loads((root / "results" / "metrics.json").read_text())
    return render((root / "README.md").read_text(), "headline", headline_block(metrics))


if __name__ == "__main__":
    (ROOT / "README.md").write_text(updated_readme())
    print("README.md updated")
