"""Train Mini-Xception on FER-2013: one plain loop, best-validation checkpoint, resumable state."""
from __future__ import annotations

import csv
import io
import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from .augment import AugmentConfig, augment_batch, mixup
from ..data.fer2013 import Split, load_dataset
from .distill import distill_loss, soft_targets, teacher_logits
from ..errors import FerxError
from ..files import save_torch, write_text
from ..model import build_model, to_input
from ..weights import ModelCard, card_path, save_card

log = logging.getLogger(__name__)

HISTORY_FIELDS = ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]


@dataclass
class TrainConfig:
    data: str = "../shared/fer2013"
    out: str = "results"
    model: str = "emo"  # a key of MODEL_CONFIGS
    epochs: int = 72  # the most that fit the 90-minute budget on 2 cores (docs/experiments.md)
    batch_size: int = 128
    lr: float = 3e-3  # peak of the one-cycle schedule
    weight_decay: float = 0.05  # 0.1 trailed on validation: docs/experiments.md
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.0  # Beta(alpha, alpha) mixup weight; 0 disables (0.2 lost accuracy: docs/experiments.md)
    ema_decay: float = 0.999  # 0 disables the weight average; validation and checkpoints use the average
    ema_warmup: bool = False  # ramp the decay up from 0.1; makes short runs' and early epochs' averages meaningful
    class_weight_power: float = 0.25  # loss weight of a class ~ (training count)^-power; 0.5 lost: docs/experiments.md
    teachers: list[str] = field(default_factory=list)  # weights files whose averaged view logits the student learns
    teacher_views: str = "views"  # test-time views each teacher averages over (views.MODES)
    distill_weight: float = 0.5  # share of the distillation term in the loss; the hard-label term gets the rest
    distill_temperature: float = 3.0
    patience: int = 15  # epochs without a better validation accuracy before stopping
    val_fraction: float = 0.1
    seed: int = 0
    limit: int | None = None  # cap on images per split, for quick looks
    bf16: bool = True  # bfloat16 autocast for training steps: ~2.5x faster on AVX-512 CPUs
    device: str = "cpu"  # torch device of the model; augmentation stays on the CPU so runs draw the same
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}
        aug = d.pop("augment", {})
        aug = {k: tuple(v) if isinstance(v, list) else v for k, v in aug.items()}
        return cls(**d, augment=AugmentConfig(**aug))


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """fp32 logits (N, C) for uint8 images, one pass."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        x = to_input(images[i : i + batch_size]).to(device)
        out.append(model(x))
    return torch.cat(out).cpu()


def evaluate(model: torch.nn.Module, split: Split, bf16: bool = False) -> dict[str, float]:
    # bf16 halves the validation pass on AVX-512 (3.2 s vs 7.5 s for 2,870 images), ~7% of an epoch.
    with torch.autocast(next(model.parameters()).device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = predict_logits(model, split.images).float()
    labels = torch.from_numpy(split.labels)
    return {
        "loss": F.cross_entropy(logits, labels).item(),
        "acc": (logits.argmax(1) == labels).float().mean().item(),
    }


def ema_warmup_fn(decay: float):
    """EMA update whose decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates."""

    @torch.no_grad()
    def update(ema_params: list[torch.Tensor], params: list[torch.Tensor], n_averaged: torch.Tensor) -> None:
        # A fixed 0.999 from step one leaves the average near the random init (val acc 0.25) for ~10 epochs.
        n = n_averaged.item()
        d = min(decay, (1 + n) / (10 + n))
        if torch.is_floating_point(ema_params[0]):
            torch._foreach_lerp_(ema_params, params, 1 - d)
        else:  # BN's num_batches_tracked
            for e, p in zip(ema_params, params):
                e.copy_(p)

    return update


def class_weights(labels: np.ndarray, num_classes: int, power: float) -> torch.Tensor:
    """Per-class loss weights proportional to count^-power, scaled so the average training image weighs 1."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    return torch.tensor(w * counts.sum() / (w * counts).sum(), dtype=torch.float32)


def train_one_epoch(model, optimizer, scheduler, ema, split: Split, cfg: TrainConfig, gen: torch.Generator, desc: str,
                    weight: torch.Tensor | None = None, soft: torch.Tensor | None = None):
    """One pass over `split`; `soft` (N, C) are the teacher's softened probabilities for its images, if distilling."""
    model.train()
    device = next(model.parameters()).device
    order = torch.randperm(len(split), generator=gen)
    labels = torch.from_numpy(split.labels)
    loss_sum, correct, seen = 0.0, 0, 0
    bar = tqdm(range(0, len(order), cfg.batch_size), desc=desc, leave=False, dynamic_ncols=True)
    for i in bar:
        idx = order[i : i + cfg.batch_size]
        x = augment_batch(to_input(split.images[idx.numpy()]), cfg.augment, gen)
        y = labels[idx]
        y2, lam = y, 1.0
        if cfg.mixup_alpha > 0:
            x, perm, lam = mixup(x, cfg.mixup_alpha, gen)
            y2 = y[perm]
        x, y, y2 = x.to(device, non_blocking=True), y.to(device), y2.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y, weight, label_smoothing=cfg.label_smoothing)
            if cfg.mixup_alpha > 0:
                loss = lam * loss + (1 - lam) * F.cross_entropy(logits.float(), y2, weight, label_smoothing=cfg.label_smoothing)
            if soft is not None:
                q = soft[idx].to(device)
                if cfg.mixup_alpha > 0:
                    q = lam * q + (1 - lam) * q[perm.to(device)]
                w = cfg.distill_weight
                loss = (1 - w) * loss + w * distill_loss(logits, q, cfg.distill_temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(1) == (y if lam >= 0.5 else y2)).sum().item()  # the dominant image's label
        seen += len(y)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
    return {"loss": loss_sum / seen, "acc": correct / seen}


def write_history(history: list[dict], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Train, writing best_model.pt, last.pt, history.csv and config.json into cfg.out; returns the run summary.

    On resume, wall time adds up each attempt's time to its last saved epoch.
    """
    out = Path(cfg.out)
    last_path = out / "last.pt"
    state = None
    if resume:
        if not last_path.exists():
            raise FerxError(f"{last_path}: no training state to resume from")
        state = torch.load(last_path, weights_only=False, map_location="cpu")
        cfg = TrainConfig.from_dict(state["config"])
        cfg.out = str(out)
    t_start = time.time()
    wall_before = state.get("wall_seconds", 0.0) if state is not None else 0.0  # earlier attempts of this run
    try:
        device = torch.device(cfg.device)
    except RuntimeError:
        raise FerxError(f"--device {cfg.device}: not a torch device (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FerxError(f"--device {cfg.device}: this torch build sees no CUDA GPU")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    splits = load_dataset(cfg.data, cfg.val_fraction, cfg.seed, cfg.limit)
    log.info("train %d, val %d, test %d images", len(splits["train"]), len(splits["val"]), len(splits["test"]))

    model = build_model(cfg.model).to(device)
    # FER-2013 has 16x fewer disgust faces than happy ones; unweighted, disgust recall was 0.47.
    weight = None
    if cfg.class_weight_power:
        weight = class_weights(splits["train"].labels, model.num_classes, cfg.class_weight_power).to(device)
    soft = None
    if cfg.teachers:
        soft = soft_targets(teacher_logits(cfg.teachers, splits["train"].images, cfg.teacher_views),
                            cfg.distill_temperature).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(splits["train"]) // cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.15
    )
    ema = None
    if cfg.ema_decay:
        avg_fn = ema_warmup_fn(cfg.ema_decay) if cfg.ema_warmup else get_ema_multi_avg_fn(cfg.ema_decay)
        ema = AveragedModel(model, multi_avg_fn=avg_fn, use_buffers=True)
    history: list[dict] = []
    best_acc, best_epoch, start_epoch = -1.0, 0, 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, best_acc, best_epoch = state["history"], state["best_acc"], state["best_epoch"]
        start_epoch = state["epoch"] + 1
        log.info("resuming %s at epoch %d", out, start_epoch)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.json", json.dumps(asdict(cfg), indent=2) + "\n")
    save_card(ModelCard.for_variant(cfg.model), card_path(out / "best_model.pt"))  # best_model.pt's own description

    for epoch in range(start_epoch, cfg.epochs + 1):
        if epoch - best_epoch > cfg.patience and best_epoch > 0:
            log.info("early stop: no better validation accuracy since epoch %d", best_epoch)
            break
        t0 = time.time()
        lr = optimizer.param_groups[0]["lr"]
        tr = train_one_epoch(model, optimizer, scheduler, ema, splits["train"], cfg, gen, f"epoch {epoch}/{cfg.epochs}",
                             weight, soft)
        eval_model = ema.module if ema is not None else model
        va = evaluate(eval_model, splits["val"], cfg.bf16)
        row = {"epoch": epoch, "lr": lr, "train_loss": tr["loss"], "train_acc": tr["acc"],
               "val_loss": va["loss"], "val_acc": va["acc"], "seconds": time.time() - t0}
        history.append(row)
        if va["acc"] > best_acc:
            best_acc, best_epoch = va["acc"], epoch
            save_torch({k: v.cpu() for k, v in eval_model.state_dict().items()}, out / "best_model.pt")
        save_torch({
            "config": asdict(cfg), "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
            "history": history, "best_acc": best_acc, "best_epoch": best_epoch,
            "wall_seconds": wall_before + time.time() - t_start,
        }, last_path)
        write_history(history, out / "history.csv")
        log.info("epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  lr %.2e  %.0fs%s",
                 epoch, cfg.epochs, tr["loss"], tr["acc"], va["loss"], va["acc"], lr, row["seconds"],
                 "  *best" if best_epoch == epoch else "")
    return {"best_epoch": best_epoch, "best_val_acc": best_acc, "epochs_run": len(history),
            "train_seconds": sum(r["seconds"] for r in history),
            "train_wall_seconds": wall_before + time.time() - t_start}
