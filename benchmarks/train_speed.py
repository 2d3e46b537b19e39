"""Training throughput on this machine: images/second and seconds per FER-2013 epoch.

Usage: python benchmarks/train_speed.py [--model emo] [--batch-size 128] [--steps 20] [--teacher WEIGHTS ...]

--teacher adds channels-last steps with an online teacher labelling each batch (`ferx train --teacher-online`):
the first teacher in PyTorch (channels-last, eval: what ferx uses) and in onnxruntime under a float32 student,
then every --teacher given (an ensemble, float32 PyTorch) under a float32 and a bf16-autocast student.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ferx.training.augment import AugmentConfig, augment_batch
from ferx.export import export_onnx
from ferx.inference.runtime import OnnxModel
from ferx.training.distill import OnlineTeacher, distill_loss, soft_targets
from ferx.model import build_model
from ferx.weights import load_model

TRAIN_IMAGES = 25_838  # FER-2013 train minus the 10% validation split


def measure(model_name: str, batch_size: int, steps: int, bf16: bool, channels_last: bool, teacher=None) -> float:
    """Training images per second; `teacher`: a callable labelling each augmented batch (distillation loss added)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(model_name).train().to(memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch_size, 1, 48, 48), dtype=torch.uint8)
    y = torch.randint(0, 7, (batch_size,))
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        xb = augment_batch(x.float().div(255), AugmentConfig(), gen).contiguous(memory_format=fmt)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(xb).float()
            loss = F.cross_entropy(logits, y)
        if teacher is not None:
            with torch.no_grad():
                q = soft_targets(teacher(xb), 3.0)
            loss = 0.5 * loss + 0.5 * distill_loss(logits, q, 3.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch_size / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="emo")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--teacher", action="append", default=[], help="weights of an online teacher (repeat for an ensemble)")
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, batch {args.batch_size}")
    for bf16, channels_last in ((False, False), (True, False), (False, True), (True, True)):
        ips = measure(args.model, args.batch_size, args.steps, bf16, channels_last)
        name = f"{'bf16 autocast' if bf16 else 'float32'}, {'channels-last' if channels_last else 'NCHW'}"
        print(f"{name:28s} {ips:7.0f} train images/s  {TRAIN_IMAGES / ips:6.1f} s/epoch")
    if not args.teacher:
        return
    net, card = load_model(args.teacher[0])
    ensemble = OnlineTeacher(args.teacher, torch.device("cpu"), channels_last=True)  # what `ferx train` runs
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(net, Path(tmp) / "teacher.onnx", card)
        runs = [("f32 channels-last + PyTorch", False, net.to(memory_format=torch.channels_last)),
                ("f32 channels-last + onnxruntime", False, OnnxModel(Path(tmp) / "teacher.onnx"))]
    n = f"{len(args.teacher)} teacher{'s' * (len(args.teacher) > 1)}"
    if len(args.teacher) > 1:
        runs.append((f"f32 channels-last + {n}", False, ensemble))
    runs.append((f"bf16 channels-last + {n}", True, ensemble))
    for name, bf16, teacher in runs:
        ips = measure(args.model, args.batch_size, args.steps, bf16, True, teacher)
        print(f"{name:32s} {ips:7.0f} train images/s  {TRAIN_IMAGES / ips:6.1f} s/epoch")


if __name__ == "__main__":
    main()
