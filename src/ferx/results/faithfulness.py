"""Do the saliency maps mean something? The deletion check and the model-randomisation check (Adebayo et al., 2018).

Deletion: blank (to the face's mean) the pixels a map ranks highest and see how far the explained class's probability
falls, against blanking a random region of the same size and smoothness. A random region, not random single pixels:
salt-and-pepper blanking is an artefact no training face has, and it lowers every class more than any coherent region
does (the ROAD paper's point), so it would rank every smooth map below chance.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from ..inference.explain import features, grad_cam
from ..model import to_input


@torch.no_grad()
def _prob(model: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.softmax(model(x), 1).gather(1, targets[:, None])[:, 0]


def blank_top(x: torch.Tensor, maps: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """x (N, 1, H, W) with the `fraction` of pixels each map ranks highest set to that face's mean (ties broken at random)."""
    n, hw = len(x), x.shape[-1] * x.shape[-2]
    jitter = torch.rand(n, hw, generator=torch.Generator().manual_seed(seed)) * 1e-6
    top = (maps.reshape(n, hw).float() + jitter).topk(int(round(fraction * hw)), 1).indices
    mask = torch.zeros(n, hw).scatter_(1, top, 1.0).reshape_as(x)
    return x * (1 - mask) + x.mean((1, 2, 3), keepdim=True) * mask


def random_regions(n: int, grid: int, size: int, seed: int = 0) -> torch.Tensor:
    """n random maps (n, size, size): uniform noise on a grid x grid lattice, upsampled as Grad-CAM maps are."""
    noise = torch.rand(n, 1, grid, grid, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def deletion_check(model: torch.nn.Module, images: np.ndarray, fraction: float = 0.2, seed: int = 0,
                   block: int = -1) -> dict:
    """Mean drop of the predicted class's probability when blanking the map's top `fraction` vs a random region."""
    model.eval()
    x = to_input(images)
    # Ranked by the signed map: its order where the drawn (positive) map is 0 is smooth, not a tie broken at random.
    maps, targets = grad_cam(model, x, block=block, relu=False)
    grid = _grid(model, x, block)
    p0 = _prob(model, x, targets)
    drop_map = p0 - _prob(model, blank_top(x, maps, fraction, seed), targets)
    drop_random = p0 - _prob(model, blank_top(x, random_regions(len(x), grid, x.shape[-1], seed), fraction, seed), targets)
    scattered = torch.rand(len(x), *x.shape[-2:], generator=torch.Generator().manual_seed(seed + 1))
    drop_pixels = p0 - _prob(model, blank_top(x, scattered, fraction, seed), targets)
    diff = (drop_map - drop_random).numpy()
    return {"faces": len(x), "fraction": fraction, "map_grid": grid,
            "drop_map": float(drop_map.mean()), "drop_random_region": float(drop_random.mean()),
            "drop_random_pixels": float(drop_pixels.mean()),
            "margin": float(diff.mean()), "margin_stderr": float(diff.std(ddof=1) / np.sqrt(len(diff))),
            "share_map_worse": float((diff > 0).mean())}


def _grid(model: torch.nn.Module, x: torch.Tensor, block: int) -> int:
    """The side of the block's output for this input size."""
    with torch.no_grad():
        return int(features(model, x[:1], block)[0].shape[-1])


def randomise_block(model: torch.nn.Module, block: int = -1, seed: int = 0) -> torch.nn.Module:
    """A copy of `model` whose block `block` is re-initialised (weights and batch-norm statistics)."""
    torch.manual_seed(seed)
    other = copy.deepcopy(model)
    for m in other.blocks[block].modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()
    return other.eval()


def randomisation_check(model: torch.nn.Module, images: np.ndarray, block: int = -1, seed: int = 0) -> dict:
    """Spearman rank correlation, per face, of the maps of `model` and of a copy whose `block` is re-initialised.

    The signed maps are compared (same class targets): after the ReLU most of the randomised model's maps are all
    zero, which has no ranks.
    """
    model.eval()
    x = to_input(images)
    before, targets = grad_cam(model, x, block=block, relu=False)
    after, _ = grad_cam(randomise_block(model, block, seed), x, targets, block=block, relu=False)
    rho = np.array([spearmanr(a, b).statistic for a, b in zip(before.reshape(len(x), -1).numpy(),
                                                                   after.reshape(len(x), -1).numpy())])
    rho = np.nan_to_num(rho)  # a constant map has no ranks: no agreement
    return {"faces": len(x), "spearman_mean": float(rho.mean()), "spearman_median": float(np.median(rho)),
            "share_above_0.5": float((rho > 0.5).mean())}
