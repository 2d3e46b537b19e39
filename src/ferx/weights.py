"""Load and save model weights: plain state_dicts (results/best_model.pt) and the packaged checkpoint."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch

from .errors import FerxError
from .files import save_torch
from .model import CLASSES, MODEL_CONFIGS, MiniXception, build_model

PRETRAINED = "mini_xception_emo.pt"


def load_weights(path: str | os.PathLike, device: str | torch.device = "cpu", model: str = "emo") -> MiniXception:
    """An eval-mode MiniXception from a packaged checkpoint, or a plain state_dict of variant `model`."""
    path = Path(path)
    if not path.is_file():
        raise FerxError(f"{path}: no such weights file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for non-checkpoint files
        raise FerxError(f"{path}: not a PyTorch weights file ({exc.__class__.__name__})") from None
    if isinstance(obj, dict) and "state_dict" in obj:  # packaged: it names its own constructor arguments
        net, obj = MiniXception(**obj.get("model_args", {})), obj["state_dict"]
    else:
        net = build_model(model)
    if not isinstance(obj, dict):
        raise FerxError(f"{path}: expected a state_dict, found {type(obj).__name__}")
    try:
        net.load_state_dict(obj)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "mismatch"
        raise FerxError(f"{path}: weights are for another architecture ({first})") from None
    return net.to(device).eval()


def save_packaged(state_dict: dict, model: str, metrics: dict, path: str | os.PathLike) -> None:
    """A self-describing checkpoint: constructor arguments, labels and headline metrics beside the weights."""
    save_torch({"state_dict": state_dict, "model_args": MODEL_CONFIGS[model], "classes": list(CLASSES),
                "metrics": metrics}, path)


def pretrained_path() -> Path:
    return Path(str(resources.files("ferx") / "weights" / PRETRAINED))


def load_pretrained(device: str | torch.device = "cpu") -> MiniXception:
    """The packaged Mini-Xception-Emo weights (trained by `ferx train` defaults), eval mode, offline."""
    return load_weights(pretrained_path(), device)
