"""Batch augmentation, mixup and the EMA warm-up: what each does to a batch and to the average."""
from __future__ import annotations

import torch
from scipy.stats import beta
from torch.optim.swa_utils import AveragedModel

from ferx.training.augment import AugmentConfig, augment_batch, mixup
from ferx.model import build_model
from ferx.training.train import ema_warmup_fn


def batch(n: int = 64) -> torch.Tensor:
    return torch.rand(n, 1, 48, 48, generator=torch.Generator().manual_seed(1))


def test_augment_keeps_shape_and_range_and_is_seeded() -> None:
    x = batch()
    a = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    b = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1 and not torch.allclose(a, x)


def test_augment_with_everything_off_is_the_identity() -> None:
    off = AugmentConfig(flip=0, max_shift=0, max_rotate=0, scale=(1, 1), erase=0)
    x = batch()
    assert torch.allclose(augment_batch(x, off, torch.Generator().manual_seed(0)), x, atol=1e-5)


def test_lighting_jitter_changes_each_faces_contrast_and_brightness_within_bounds() -> None:
    off = AugmentConfig(flip=0, max_shift=0, max_rotate=0, scale=(1, 1), erase=0)
    x = batch(256) * 0.5 + 0.25  # room on both sides, so the clamp to [0, 1] never bites
    y = augment_batch(x, AugmentConfig(**{**off.__dict__, "light": 0.3}), torch.Generator().manual_seed(0))
    contrast = y.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    shift = y.mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3))
    assert contrast.min() >= 0.7 - 1e-4 and contrast.max() <= 1.3 + 1e-4 and contrast.std() > 0.1
    assert shift.abs().max() <= 0.15 + 1e-4 and shift.std() > 0.05


def test_mixup_blends_each_image_with_its_partner() -> None:
    x = batch()
    mixed, perm, lam = mixup(x, 0.2, torch.Generator().manual_seed(3))
    assert 0 <= lam <= 1 and sorted(perm.tolist()) == list(range(len(x)))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[perm])


def test_mixup_weights_follow_beta_alpha_alpha() -> None:
    gen = torch.Generator().manual_seed(0)
    lams = torch.tensor([mixup(torch.zeros(2, 1, 1, 1), 0.2, gen)[2] for _ in range(4000)])
    # Beta(0.2, 0.2) puts most weight near 0 and 1: mean 0.5, P(lam < 0.1) = cdf(0.1).
    assert abs(lams.mean().item() - 0.5) < 0.03
    assert abs((lams < 0.1).float().mean().item() - beta.cdf(0.1, 0.2, 0.2)) < 0.03


def test_ema_warmup_follows_the_model_early_and_averages_late() -> None:
    model = build_model("original")
    ema = AveragedModel(model, multi_avg_fn=ema_warmup_fn(0.999), use_buffers=True)
    ema.update_parameters(model)  # the first update copies
    w = next(model.parameters())
    with torch.no_grad():
        w.add_(1.0)
    ema.update_parameters(model)  # n = 1: decay (1 + 1) / (10 + 1)
    e = next(ema.module.parameters())
    assert torch.allclose(e, w - 2 / 11, atol=1e-5)
    assert ema_decay_at(20_000) == 0.999


def ema_decay_at(n: int) -> float:
    a, b = torch.zeros(1), torch.ones(1)
    ema_warmup_fn(0.999)([a], [b], torch.tensor(n))
    return round(1 - a.item(), 6)
