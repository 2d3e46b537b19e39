"""Grad-CAM saliency (Selvaraju et al., 2017) on a convolutional block of MiniXception, mapped back to face boxes.

The map of class c weighs each channel of the block's output by the spatial mean of d(logit c)/d(channel), sums the
channels, keeps the positive part and is upsampled (bilinear) to the 48x48 crop; 1 marks where the class draws most.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .faces.crop import CROP_MARGIN, Box

__all__ = ["Explanation", "grad_cam", "class_maps", "features", "box_map", "overlay"]


@dataclass
class Explanation:
    """One face's map: `heatmap` (h, w) over its box, `crop_map` (48, 48) over the crop the model saw, both in [0, 1]."""

    face: Any  # the recognizer's Face: box, emotion, scores
    target: str  # the class the map explains
    heatmap: np.ndarray  # pixel (i, j) covers image pixel (y + i, x + j) of face.box (x, y, w, h)
    crop: np.ndarray  # (48, 48) uint8
    crop_map: np.ndarray

    def to_dict(self, grid: int = 48) -> dict:
        """The face's dict plus the target and the heat map resampled to grid x grid cells spanning the box."""
        small = cv2.resize(self.heatmap, (grid, grid), interpolation=cv2.INTER_AREA)
        return {**self.face.to_dict(), "target": self.target, "heatmap": np.round(small, 3).tolist()}


def grad_cam(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor | Sequence[int] | None = None,
             block: int = -1, relu: bool = True, normalise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps (N, H, W) of inputs x (N, 1, H, W) for `target` classes (default: each face's argmax), and the targets.

    `model` in eval mode (dropout off, batch-norm statistics fixed), as every loader of ferx returns it.

    `block` indexes model.blocks (-1: the last, as Grad-CAM prescribes); `relu=False` keeps the signed map;
    `normalise` divides each map by its maximum (an all-zero map stays zero).
    """
    maps, targets = _cams(model, x, [target], block)
    return _finish(maps[0], x.shape[-2:], relu, normalise), targets[0]


def class_maps(model: torch.nn.Module, x: torch.Tensor, block: int = -1) -> torch.Tensor:
    """Maps (N, C, H, W) of every class, one forward pass; each map normalised to a maximum of 1."""
    classes = model.num_classes
    maps, _ = _cams(model, x, [[c] * len(x) for c in range(classes)], block)
    return torch.stack([_finish(m, x.shape[-2:], True, True) for m in maps], 1)


def features(model: torch.nn.Module, x: torch.Tensor, block: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """(output of model.blocks[block], logits) of one forward pass, with the graph between them kept.

    The last block is forward_features / forward_head (safe to call from several threads); another block is caught
    with a forward hook on the shared module (one thread at a time).
    """
    if block in (-1, len(model.blocks) - 1):
        feats = model.forward_features(x)
        return feats, model.forward_head(feats)
    captured: list[torch.Tensor] = []
    handle = model.blocks[block].register_forward_hook(lambda mod, inp, out: captured.append(out))
    try:
        logits = model(x)
    finally:
        handle.remove()
    return captured[0], logits


def _cams(model: torch.nn.Module, x: torch.Tensor, targets: list, block: int) -> tuple[list, list]:
    """Signed block-resolution CAMs (N, h, w) for each entry of `targets` (None: the argmax), from one forward pass."""
    with torch.enable_grad():
        feats, logits = features(model, x.detach(), block)
        maps, used = [], []
        for i, t in enumerate(targets):
            t = logits.argmax(1) if t is None else torch.as_tensor(t, dtype=torch.long, device=logits.device)
            (grads,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), feats, retain_graph=i < len(targets) - 1)
            maps.append((grads.mean((2, 3), keepdim=True) * feats).sum(1).detach())
            used.append(t)
    return maps, used


def _finish(cam: torch.Tensor, size: torch.Size, relu: bool, normalise: bool) -> torch.Tensor:
    cam = F.interpolate(cam[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    if relu:
        cam = cam.clamp_min(0)
    if normalise:
        top = cam.abs().amax((1, 2), keepdim=True)
        cam = torch.where(top > 0, cam / top.clamp_min(1e-12), cam)
    return cam


def box_map(crop_map: np.ndarray, box: Box, margin: float = CROP_MARGIN) -> np.ndarray:
    """A (48, 48) map of a crop made by crop_faces(box, margin), resampled onto the box: (h, w) float32."""
    x, y, w, h = box
    # The crop's square in image pixels, rounded as crop_faces rounds it.
    side = max(w, h) * (1 + 2 * margin)
    x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
    n = int(round(side))
    square = cv2.resize(np.asarray(crop_map, np.float32), (n, n), interpolation=cv2.INTER_LINEAR)
    r0, c0 = y - y0, x - x0  # the box's corner inside the square
    pad = max(0, -r0, -c0, r0 + h - n, c0 + w - n)  # rounding can leave the box a pixel outside the square
    square = np.pad(square, pad, mode="edge") if pad else square
    return np.ascontiguousarray(square[r0 + pad : r0 + pad + h, c0 + pad : c0 + pad + w])


def overlay(gray: np.ndarray, heat: np.ndarray, alpha: float = 0.45, size: int | None = None) -> np.ndarray:
    """A BGR image: `gray` (H, W) with `heat` in [0, 1] drawn over it in OpenCV's JET colours (red = high)."""
    if size:
        gray = cv2.resize(gray, (size, size), interpolation=cv2.INTER_CUBIC)
    heat = cv2.resize(np.asarray(heat, np.float32), gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    return cv2.addWeighted(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), 1 - alpha, colours, alpha, 0)
