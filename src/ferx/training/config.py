"""The configuration of a training run: every choice of the recipe, checked, and the run folder it writes."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..devices import parse_device
from ..errors import FerxError
from .augment import AugmentConfig
from .resume import complete_config

RUNS = "runs"  # training writes here by default, never into the tracked results/ (scripts/release.py does that)


def new_run_dir(name: str | None = None) -> str:
    """runs/NAME, or runs/<date-time> (with -2, -3, ... where that folder exists already)."""
    if name:
        if Path(name).name != name or name in (".", ".."):
            raise FerxError(f"--name {name}: a folder name under {RUNS}/, without slashes")
        return str(Path(RUNS) / name)
    base = Path(RUNS) / time.strftime("%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return str(path)


@dataclass
class TrainConfig:
    data: str = "../shared/fer2013"
    out: str = field(default_factory=new_run_dir)  # a run folder of its own: runs/<date-time>
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
    teacher_online: bool = False  # teachers see each augmented batch (one pass) instead of cached view logits
    distill_weight: float = 0.5  # share of the distillation term in the loss; the hard-label term gets the rest
    distill_temperature: float = 3.0
    patience: int = 15  # epochs without a better validation accuracy before stopping
    val_fraction: float = 0.1  # 0: train on every training image, keep the last epoch (no choice is left to make)
    seed: int = 0
    split_seed: int | None = None  # seed of the splits alone (None: `seed`); fixed, seeds compare on the same faces
    limit: int | None = None  # cap on images per split, for quick looks
    # bfloat16 autocast was ~2.5x faster on the machine of the first runs and is slower on CPUs without bf16 units;
    # float32 in the channels-last (NHWC) layout was the fastest on the 2-core CPU since (benchmarks/train_speed.py).
    bf16: bool = False
    channels_last: bool = True
    device: str = "cpu"  # torch device of the model; augmentation stays on the CPU so runs draw the same
    init: str | None = None  # "pretrained" (the packaged model) or a weights file to fine-tune; None: from scratch
    test_fraction: float = 0.2  # share held out as the test split of a single labelled folder DIR/<class>/
    group_regex: str | None = None  # subject id in file names: no subject on both sides of a split
    detect: str | None = None  # face detector cropping a labelled folder's images first (e.g. "haar")
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @property
    def val_seed(self) -> int:
        """The seed that draws the splits: validation, a single folder's test split, --limit's sample."""
        return self.seed if self.split_seed is None else self.split_seed

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """One-line FerxError for a value no run can use, named as the `ferx train` option that sets it."""
        a = self.augment
        checks = [
            ("--epochs", self.epochs, isinstance(self.epochs, int) and self.epochs >= 1, "must be at least 1"),
            ("--batch-size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1,
             "must be at least 1"),
            ("--val-fraction", self.val_fraction, 0 <= self.val_fraction < 1,
             "a share of the training images, at least 0 and under 1"),
            ("--test-fraction", self.test_fraction, 0 < self.test_fraction < 1, "a share of the images, between 0 and 1"),
            ("--limit", self.limit, self.limit is None or self.limit >= 1, "must be at least 1"),
            ("--patience", self.patience, self.patience >= 0, "must be 0 or more epochs"),
            ("--lr", self.lr, self.lr > 0, "must be positive"),
            ("--weight-decay", self.weight_decay, self.weight_decay >= 0, "must be positive, or 0 to turn it off"),
            ("--mixup", self.mixup_alpha, self.mixup_alpha >= 0, "must be positive, or 0 to turn it off"),
            ("--class-weight", self.class_weight_power, self.class_weight_power >= 0, "must be positive, or 0 to turn it off"),
            ("label_smoothing", self.label_smoothing, 0 <= self.label_smoothing < 1, "between 0 and 1"),
            ("ema_decay", self.ema_decay, 0 <= self.ema_decay < 1, "between 0 and 1 (0 turns the average off)"),
            ("--distill-weight", self.distill_weight, 0 <= self.distill_weight <= 1, "a share of the loss, between 0 and 1"),
            ("--distill-temperature", self.distill_temperature, self.distill_temperature > 0, "must be positive"),
            ("--rotate", a.max_rotate, a.max_rotate >= 0, "must be positive, or 0 to turn it off"),
            ("--erase", a.erase, 0 <= a.erase <= 1, "a probability, between 0 and 1"),
            ("--light", a.light, 0 <= a.light < 1, "at least 0 (off) and under 1"),
            ("--scale", " ".join(f"{v:g}" for v in a.scale), len(a.scale) == 2 and 0 < a.scale[0] <= a.scale[1],
             "needs 0 < LOW <= HIGH"),
        ]
        for flag, value, ok, problem in checks:
            if not ok:
                raise FerxError(f"{flag} {value:g}: {problem}" if isinstance(value, float) else f"{flag} {value}: {problem}")
        parse_device(self.device)  # "gpu" is no device; whether a GPU is there is checked when the run starts

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "TrainConfig":
        """A saved configuration (config.json, last.pt); keys it predates take the value runs then had."""
        d = {k: v for k, v in complete_config(d, source).items() if k in {f.name for f in fields(cls)}}
        aug = d.pop("augment", {})
        aug = {k: tuple(v) if isinstance(v, list) else v for k, v in aug.items()}
        return cls(**d, augment=AugmentConfig(**aug))
