"""Torch device names checked once, with one-line errors, for training, the API and the CLI alike; CPU features."""
from __future__ import annotations

import logging
import platform
from functools import cache
from pathlib import Path

import torch

from .errors import FerxError

log = logging.getLogger(__name__)


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


@cache
def cpu_flags() -> frozenset[str] | None:
    """This CPU's feature flags as /proc/cpuinfo lists them (Linux); None where there is no such file."""
    path = Path("/proc/cpuinfo")
    return frozenset(path.read_text().split()) if path.is_file() else None


def warn_slow_bf16(bf16: bool, device: torch.device) -> None:
    """Warn when bf16 autocast is asked of an x86 CPU without AVX-512: on one (AMD EPYC, 2026-12-07) it trained at 16
    images/s against float32 channels-last's 216 (benchmarks/train_speed.py)."""
    flags = cpu_flags()
    if bf16 and device.type == "cpu" and platform.machine().lower() in ("x86_64", "amd64") and flags is not None \
            and "avx512bw" not in flags:
        log.warning("--bf16 on a CPU without AVX-512: bf16 autocast trains about 10x slower than float32 on such a "
                    "CPU (README); leave it off here")
