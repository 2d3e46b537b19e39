"""Rewrite the generated blocks of README.md from results/metrics.json (never type a metric by hand).

Usage: python scripts/update_readme.py        (tests/test_pretrained.py checks the blocks are current)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def headline_block(metrics: dict) -> str:
    s = metrics["summary"]
    rows = [
        "| model | params | test accuracy | macro F1 | micro AUC |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, name in (("tta", "ferx Mini-Xception-Emo, flip TTA"), ("no_tta", "ferx Mini-Xception-Emo, single pass")):
        m = metrics[key]
        default = " (default)" if key == metrics["default"] else ""
        rows.append(f"| {name}{default} | {metrics['params'] / 1e3:.0f}K | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['micro_auc']:.3f} |")
    rows += [
        "| published Mini-Xception-Emo results folder | | 0.69 | 0.68 | 0.91 |",
        "| Arriaga et al. 2017 (mini-Xception paper) | ~60K | 0.66 | | |",
        "",
        f"{metrics['mflops']:.1f} MFLOPs per 48x48 face. Trained by `{s['command']}` in "
        f"{s['train_wall_seconds'] / 60:.1f} minutes of wall time on {s['machine']} "
        f"(best validation epoch {s['best_epoch']} of {s['epochs_run']}); all on the 7,178-image test split, "
        "which no choice looked at. Details: [results/README.md](results/README.md).",
    ]
    return "\n".join(rows)


def render(readme: str, name: str, block: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md: no <!-- {name}:start --> ... <!-- {name}:end --> block")
    return pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), readme)


def updated_readme() -> str:
    metrics = json.loads((ROOT / "results" / "metrics.json").read_text())
    return render((ROOT / "README.md").read_text(), "headline", headline_block(metrics))


if __name__ == "__main__":
    (ROOT / "README.md").write_text(updated_readme())
    print("README.md updated")
