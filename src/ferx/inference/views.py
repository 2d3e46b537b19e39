"""Test-time views: a face, its mirror, small shifts and a centre zoom of each, logits averaged over them."""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import FerxError
from ..model import to_input

Model = Callable[[torch.Tensor], torch.Tensor]

VIEWS = ("face", "mirror", "shifted face", "shifted mirror", "zoomed face", "zoomed mirror")
# The views each mode averages, in the order `view_stack` returns them; "views" holds every other mode's.
MODES = {"none": ("face",), "flip": ("face", "mirror"), "cross": ("mirror", "zoomed face"), "views": VIEWS}
DEFAULT = "views"  # the default prediction path everywhere (chosen on validation: docs/experiments.md)
SHIFTS = ((2, 0), (-2, 0), (0, 2), (0, -2))
ZOOM_CROP = 44
JOIN_BELOW = 256  # batch sizes up to which all views go through the model in one call
ONNX_FROM = 2048  # forward passes from which predict_views exports a CPU model to onnxruntime: the export takes ~1 s
NAMES = {"views": "six views", "cross": "mirror + zoomed face", "flip": "face + mirror", "none": "single pass"}
DESCRIPTIONS = {
    "views": "mean logits of six views (the face, its mirror, each shifted by 2 pixels four ways, each centre-zoomed "
             "from 44 pixels; 12 forward passes)",
    "cross": "mean logits of the mirror image and the centre-zoomed face (zoomed from 44 pixels; 2 forward passes)",
    "flip": "mean logits of the face and its mirror (2 forward passes)",
    "none": "a single forward pass",
}


def check_mode(mode: str | bool) -> str:
    """A mode name; True means the default, False a single pass ("none")."""
    if mode is True:
        return DEFAULT
    if mode is False:
        return "none"
    if mode not in MODES:
        raise FerxError(f"unknown test-time augmentation {mode!r}; choose from {', '.join(MODES)}")
    return mode


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move the image by (dx, dy) pixels, replicating the edges."""
    # a gather of clamped rows and columns, not F.pad(mode="replicate"): that one opens an OpenMP region whose worker
    # thread then spins for milliseconds, taking one of a laptop's few cores from onnxruntime's detector and classifier
    h, w = x.shape[-2:]
    rows = (torch.arange(h, device=x.device) - dy).clamp(0, h - 1)
    cols = (torch.arange(w, device=x.device) - dx).clamp(0, w - 1)
    return x[..., rows[:, None], cols]


def zoom(x: torch.Tensor, crop: int = ZOOM_CROP) -> torch.Tensor:
    """The centre crop x crop pixels, resized back to the input size."""
    m = (x.shape[-1] - crop) // 2
    return F.interpolate(x[..., m : m + crop, m : m + crop], size=x.shape[-2:], mode="bilinear", align_corners=False)


@torch.no_grad()
def view_stack(model: Model, x: torch.Tensor, mode: str = DEFAULT) -> torch.Tensor:
    """Logits (V, N, C) of the views of `mode`, in MODES[mode] order (for "views": face, mirror, shifted face, shifted
    mirror, zoomed face, zoomed mirror).

    A shifted view is the mean logits of the four 2-pixel shifts, so the six views weigh equally.
    """
    groups = view_inputs(x, mode)
    inputs = [v for group in groups for v in group]
    if len(x) * len(inputs) <= JOIN_BELOW:  # one call for a few faces: per-call overhead dominates a photo or frame
        logits = list(model(torch.cat(inputs)).split(len(x)))
    else:
        logits = [model(v) for v in inputs]
    views, i = [], 0
    for group in groups:
        views.append(logits[i] if len(group) == 1 else torch.stack(logits[i : i + len(group)]).mean(0))
        i += len(group)
    return torch.stack(views)


def view_inputs(x: torch.Tensor, mode: str = DEFAULT) -> list[list[torch.Tensor]]:
    """The model inputs of each view of `mode`, in MODES[mode] order; a view of several inputs (the shifts) is their mean."""
    face, mirror = x, x.flip(3)
    groups = {  # built only when the mode asks for them
        "face": lambda: [face], "mirror": lambda: [mirror],
        "shifted face": lambda: [shift(face, dx, dy) for dx, dy in SHIFTS],
        "shifted mirror": lambda: [shift(mirror, dx, dy) for dx, dy in SHIFTS],
        "zoomed face": lambda: [zoom(face)], "zoomed mirror": lambda: [zoom(mirror)],
    }
    return [groups[name]() for name in MODES[mode]]


def forward_passes(mode: str) -> int:
    """Forward passes per face under `mode` (a shifted view is four)."""
    return sum(len(SHIFTS) if view.startswith("shifted") else 1 for view in MODES[mode])


def tta_logits(model: Model, x: torch.Tensor, mode: str = DEFAULT) -> torch.Tensor:
    """Logits (N, C) averaged over the views of `mode`."""
    return view_stack(model, x, mode).mean(0)


def predict_views(model: Model, images: np.ndarray, mode: str = DEFAULT, batch_size: int = 512) -> torch.Tensor:
    """fp32 logits (V, N, C) of uint8 images (N, 48, 48) under every view of `mode`, in batches.

    `model`: a torch module (put in eval mode; on a CPU run by an onnxruntime copy when the job is long) or a
    callable such as `OnnxModel`, which runs on the CPU.
    """
    device, layout = torch.device("cpu"), torch.contiguous_format
    if isinstance(model, torch.nn.Module):
        model.eval()
        device = next(model.parameters()).device
        if device.type == "cpu" and len(images) * forward_passes(mode) >= ONNX_FROM:
            from .runtime import onnx_copy

            model = onnx_copy(model)  # 3.5x PyTorch channels-last's rate on the six views (benchmarks/inference.py)
        elif device.type == "cpu":
            # channels-last runs a CPU's convolutions 1.7-2x as fast as NCHW; on a copy, so that the caller's model
            # keeps its layout (its backward crashed on some batch sizes)
            model, layout = copy.deepcopy(model).to(memory_format=torch.channels_last), torch.channels_last
    out = [view_stack(model, to_input(images[i : i + batch_size]).to(device, memory_format=layout), mode).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out, dim=1)


def mode_rows(mode: str, of: str = "views") -> list[int]:
    """The rows of a view stack of mode `of` that hold `mode`'s views."""
    return [MODES[of].index(view) for view in MODES[mode]]


def mode_probs(stack: torch.Tensor, of: str = "views") -> dict[str, np.ndarray]:
    """Class probabilities of every mode that a (V, N, C) view stack of mode `of` holds."""
    return {mode: torch.softmax(stack[mode_rows(mode, of)].mean(0), 1).numpy()
            for mode, views in MODES.items() if set(views) <= set(MODES[of])}
