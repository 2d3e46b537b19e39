"""Batch augmentation as tensor ops: one random affine (flip, shift, rotation, scale), lighting, erasing, mixup."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.special import betaincinv


@dataclass
class AugmentConfig:
    flip: float = 0.5  # probability of a horizontal flip
    max_shift: float = 0.1  # fraction of the image size, each axis
    max_rotate: float = 10.0  # degrees; the first shipped 15 / 0.85-1.15 / 0.5 scored lower: docs/experiments.md
    scale: tuple[float, float] = (0.9, 1.1)
    erase: float = 0.25  # probability of erasing one rectangle
    erase_area: tuple[float, float] = (0.02, 0.2)
    light: float = 0.0  # contrast x U(1-light, 1+light) about the face's mean, brightness + U(-light/2, light/2)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Augment a float batch (N, C, H, W) in [0, 1]; every random draw comes from `gen`."""
    n, _, h, w = x.shape

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=gen) * (hi - lo) + lo

    angle = uniform(-cfg.max_rotate, cfg.max_rotate) * (math.pi / 180)
    scale = uniform(*cfg.scale)
    flip = torch.where(torch.rand(n, generator=gen) < cfg.flip, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * cfg.max_shift)  # grid units span 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.light > 0:  # no draws when off, so runs from before this option replay the same
        contrast = uniform(1 - cfg.light, 1 + cfg.light).view(n, 1, 1, 1)
        bright = uniform(-cfg.light / 2, cfg.light / 2).view(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
    if cfg.erase > 0:
        area = uniform(*cfg.erase_area) * h * w
        aspect = torch.exp(uniform(math.log(0.3), math.log(3.3)))
        eh = (area * aspect).sqrt().clamp(max=h)
        ew = (area / aspect).sqrt().clamp(max=w)
        top = torch.rand(n, generator=gen) * (h - eh)
        left = torch.rand(n, generator=gen) * (w - ew)
        ys = torch.arange(h).view(1, h, 1)
        xs = torch.arange(w).view(1, 1, w)
        box = (ys >= top.view(n, 1, 1)) & (ys < (top + eh).view(n, 1, 1))
        box = box & (xs >= left.view(n, 1, 1)) & (xs < (left + ew).view(n, 1, 1))
        box = box & (torch.rand(n, 1, 1, generator=gen) < cfg.erase)
        noise = torch.rand(x.shape, generator=gen)
        x = torch.where(box.unsqueeze(1), noise, x)
    return x


def mixup(x: torch.Tensor, alpha: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Blend the batch with a shuffled copy of itself (Zhang et al. 2018); returns images, partner order, weight.

    The Beta(alpha, alpha) weight comes from `gen` through the inverse CDF, so resumed runs draw the same.
    """
    lam = float(betaincinv(alpha, alpha, torch.rand(1, generator=gen).item()))
    perm = torch.randperm(len(x), generator=gen)
    return lam * x + (1 - lam) * x[perm], perm, lam
