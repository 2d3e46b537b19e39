"""Torch device names checked once, with one-line errors, for training, the API and the CLI alike."""
from __future__ import annotations

import torch

from .errors import FerxError


def parse_device(device: str | torch.device) -> torch.device:
    """`device` as a torch.device; "gpu" and other names torch does not know are a FerxError."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise FerxError(f"--device {device}: not a torch device (cpu, cuda, cuda:1, ...)") from None


def resolve_device(device: str | torch.device) -> torch.device:
    """`device` parsed and present on this machine (a CUDA device needs a CUDA build and that GPU)."""
    d = parse_device(device)
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise FerxError(f"--device {device}: this torch build sees no CUDA GPU")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise FerxError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    elif d.type == "mps" and not torch.backends.mps.is_available():
        raise FerxError(f"--device {device}: this machine has no Apple GPU (MPS)")
    elif d.type not in ("cpu", "mps"):
        raise FerxError(f"--device {device}: ferx runs on cpu, cuda or mps")
    return d
