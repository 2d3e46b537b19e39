"""Which test-time views help? Validation accuracy and macro F1 of averaged logits over several view sets.

Usage: python scripts/tta_views.py [--weights results/best_model.pt] [--data ../shared/fer2013]
Views: the face, its mirror, both shifted by 2 pixels in four directions (edges replicated), both
centre-cropped to 44 pixels and resized back. Only the validation split is read: this makes a choice.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from ferx.data import load_dataset
from ferx.model import to_input
from ferx.weights import load_weights


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    k = max(abs(dx), abs(dy))
    padded = F.pad(x, (k, k, k, k), mode="replicate")
    return padded[..., k + dy : k + dy + x.shape[-2], k + dx : k + dx + x.shape[-1]]


def zoom(x: torch.Tensor, crop: int) -> torch.Tensor:
    m = (x.shape[-1] - crop) // 2
    return F.interpolate(x[..., m : m + crop, m : m + crop], size=x.shape[-2:], mode="bilinear", align_corners=False)


VIEWS = {
    "face": lambda x: x,
    "shift ±2": lambda x: [shift(x, dx, dy) for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2))],
    "zoom 44": lambda x: zoom(x, 44),
}


@torch.no_grad()
def view_logits(model: torch.nn.Module, images: np.ndarray, batch_size: int = 512) -> dict[str, torch.Tensor]:
    """Logits (N, C) per named view; mirrored views carry a 'mirror ' prefix."""
    out: dict[str, list[torch.Tensor]] = {}
    for i in range(0, len(images), batch_size):
        x = to_input(images[i : i + batch_size])
        for flip in (False, True):
            xf = x.flip(3) if flip else x
            for name, fn in VIEWS.items():
                v = fn(xf)
                logits = torch.stack([model(t) for t in v]).mean(0) if isinstance(v, list) else model(v)
                out.setdefault(("mirror " if flip else "") + name, []).append(logits)
    return {k: torch.cat(v) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", default="results/best_model.pt")
    p.add_argument("--data", default="../shared/fer2013")
    args = p.parse_args()
    val = load_dataset(args.data, 0.1, 0)["val"]
    logits = view_logits(load_weights(args.weights), val.images)
    sets = {
        "face only": ["face"],
        "face + mirror (default)": ["face", "mirror face"],
        "face + mirror + shifts": ["face", "mirror face", "shift ±2", "mirror shift ±2"],
        "face + mirror + zoom": ["face", "mirror face", "zoom 44", "mirror zoom 44"],
        "all six": list(logits),
    }
    print(f"validation split, {len(val)} images")
    for name, keys in sets.items():
        pred = torch.stack([logits[k] for k in keys]).mean(0).argmax(1).numpy()
        acc = (pred == val.labels).mean()
        print(f"{name:26s} acc {acc:.4f}  macro F1 {f1_score(val.labels, pred, average='macro'):.4f}")


if __name__ == "__main__":
    main()
