"""Knowledge distillation: a teacher ensemble's soft labels, computed once and cached, and the student's loss."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.fer2013 import cache_dir
from ..devices import cpu_flags
from ..errors import FerxError
from ..files import atomic_path
from ..inference.runtime import onnx_copy
from ..inference.views import check_mode, predict_views
from ..weights import load_model

log = logging.getLogger(__name__)


def _digest(teachers: list[str], images: np.ndarray, mode: str) -> str:
    h = hashlib.sha1(mode.encode())
    for path in teachers:
        h.update(Path(path).read_bytes())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:16]


def teacher_logits(teachers: list[str | os.PathLike], images: np.ndarray, mode: str = "views",
                   use_cache: bool = True) -> torch.Tensor:
    """Mean logits (N, C) of the teachers, each averaged over the test-time views of `mode`, cached by content."""
    mode = check_mode(mode)
    teachers = [str(t) for t in teachers]
    for path in teachers:
        if not Path(path).is_file():
            raise FerxError(f"{path}: no such teacher weights file")
    cache = cache_dir() / f"teacher-{_digest(teachers, images, mode)}.npy"
    if use_cache and cache.exists():
        log.info("teacher logits from %s", cache)
        return torch.from_numpy(np.load(cache))
    per_teacher = []
    for path in teachers:
        log.info("teacher %s: %s logits of %d faces", path, mode, len(images))
        per_teacher.append(predict_views(load_model(path)[0], images, mode).mean(0))  # onnxruntime on a CPU
    logits = torch.stack(per_teacher).mean(0)
    if use_cache:  # a temporary name of this process's own: two runs started together write the same cache
        with atomic_path(cache) as tmp:
            np.save(tmp, logits.numpy())
    return logits


def distill_loss(student: torch.Tensor, target_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at `temperature`, scaled by T^2 so its gradients match the hard loss's size."""
    log_p = F.log_softmax(student.float() / temperature, dim=1)
    return F.kl_div(log_p, target_probs, reduction="batchmean") * temperature**2


def soft_targets(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The teacher's probabilities softened by `temperature`."""
    return torch.softmax(logits.float() / temperature, dim=1)


def onnx_teacher_pays() -> bool:
    """Whether onnxruntime labels a batch faster than PyTorch on this CPU: with AVX2 alone, 0.11 s against 0.19 s per
    128 faces on one core (AMD EPYC, 2026-12-07); with AVX-512, PyTorch was faster (rule revision 8)."""
    flags = cpu_flags()
    return flags is not None and "avx2" in flags and "avx512bw" not in flags


class OnlineTeacher:
    """Teachers that label the student's own augmented batch: mean logits of one eval-mode pass each.

    Where `onnx_teacher_pays`, each runs on an onnxruntime copy with torch's thread count (the same logits to 1e-6).
    """

    def __init__(self, teachers: list[str | os.PathLike], device: torch.device, channels_last: bool = False) -> None:
        fmt = torch.channels_last if channels_last else torch.preserve_format
        self.nets = [load_model(t, device)[0].to(memory_format=fmt) for t in teachers]
        self.num_classes = {net.num_classes for net in self.nets}
        if device.type == "cpu" and onnx_teacher_pays():
            self.nets = [onnx_copy(net, torch.get_num_threads()) for net in self.nets]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x).float() for net in self.nets]).mean(0)
