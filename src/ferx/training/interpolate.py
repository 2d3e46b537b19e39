"""Weight-space interpolation of a network and its fine-tuned copy (WiSE-FT): (1 - a) * start + a * tuned."""
from __future__ import annotations

import os

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
