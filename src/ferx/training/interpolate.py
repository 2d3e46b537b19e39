"""Weight-space interpolation of a network and its fine-tuned copy (WiSE-FT): (1 - a) * start + a * tuned."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from ..errors import FerxError
from ..weights import card_path, load_model, save_card
from ..files import save_torch


def interpolate(start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """Every float tensor (weights and batch-norm statistics) at (1 - alpha) * start + alpha * tuned.

    Integer buffers (batch-norm step counts) come from `tuned`. Both must be the same architecture.
    """
    if not 0.0 <= alpha <= 1.0:
        raise FerxError(f"interpolation weight {alpha}: must be in [0, 1]")
    if start.keys() != tuned.keys():
        raise FerxError("the two checkpoints have different layers: not one architecture")
    out = {}
    for key, a in start.items():
        b = tuned[key]
        if a.shape != b.shape:
            raise FerxError(f"layer {key}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
        out[key] = torch.lerp(a.float(), b.float(), alpha).to(a.dtype) if a.is_floating_point() else b.clone()
    return out


def interpolate_files(start: str | os.PathLike, tuned: str | os.PathLike, alpha: float,
                      out: str | os.PathLike) -> None:
    """Write the interpolated weights as a plain state_dict at `out`, with the tuned run's card beside it."""
    a, card_a = load_model(start)
    b, card = load_model(tuned)
    if card_a.classes != card.classes:
        raise FerxError(f"{start} and {tuned}: different classes ({card_a.classes} against {card.classes})")
    save_torch(interpolate(a.state_dict(), b.state_dict(), alpha), out)
    save_card(card, card_path(out))


def interpolation_run(start: str | os.PathLike, tuned: str | os.PathLike, alpha: float, out: str | os.PathLike,
                      command: str) -> Path:
    """Make `out` a run folder of theta(alpha) that `ferx evaluate --weights OUT/best_model.pt --out OUT` and
    scripts/release.py take: the weights and card, the fine-tune's config.json and history.csv (its curves), and a
    summary.json naming both ends, so that the results folder lists every step that made the weights."""
    out, run = Path(out), Path(tuned).parent
    if out.exists():
        raise FerxError(f"{out}: already exists; an interpolation run goes into a new folder")
    records = {name: run / name for name in ("config.json", "history.csv", "summary.json")}
    missing = [name for name, path in records.items() if not path.is_file()]
    if Path(tuned).name != "best_model.pt" or missing:
        raise FerxError(f"{tuned}: not a training run's best_model.pt with its records beside it "
                        f"(missing {', '.join(missing) or 'nothing; the file name is not best_model.pt'})")
    tuned_summary = json.loads(records["summary.json"].read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        interpolate_files(start, tuned, alpha, tmp / "best_model.pt")
        for name in ("config.json", "history.csv"):
            shutil.copy2(records[name], tmp / name)
        summary = {"command": command, "interpolation": {"start": str(start), "tuned": str(tuned), "alpha": alpha},
                   **{k: tuned_summary[k] for k in ("best_epoch", "best_val_acc", "epochs_run") if k in tuned_summary}}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
