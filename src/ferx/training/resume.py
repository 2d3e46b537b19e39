"""Resuming a run from OUT/last.pt: loaded without pickled code, with the configuration the run really used."""
from __future__ import annotations

import copy
from pathlib import Path

import torch

from ..errors import FerxError

# TrainConfig keys added after the first release of `ferx train`, each with the value that reproduces a run
# saved before the key existed (what the code then did), not today's default. A new key must be added here
# (tests/test_train.py fails otherwise), or a run saved without it could not be resumed or read.
ADDED_LATER: dict[str, object] = {
    "mixup_alpha": 0.0,  # no mixup before the option
    "ema_warmup": False,
    "class_weight_power": 0.0,  # unweighted loss before the option
    "teachers": [],  # no distillation before the options
    "teacher_views": "views",
    "teacher_online": False,
    "distill_weight": 0.5,
    "distill_temperature": 3.0,
    "device": "cpu",
    "init": None,  # from scratch
    "test_fraction": 0.2,  # FER-2013 brings its own test split; only a single labelled folder uses it
    "group_regex": None,
    "detect": None,
    "channels_last": False,  # NCHW before the option
    "split_seed": None,  # the validation split came from `seed`
}
# The keys of the first TrainConfig: a saved configuration without one of these cannot be read.
ORIGINAL = ("data", "out", "model", "epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "ema_decay",
            "patience", "val_fraction", "seed", "limit", "bf16", "augment")


def complete_config(d: dict, source: str) -> dict:
    """A saved configuration with every key: missing ones take their ADDED_LATER value."""
    missing = [k for k in ORIGINAL if k not in d]
    if missing:
        raise FerxError(f"{source}: configuration without {', '.join(missing)}; not one ferx train wrote")
    return {**{k: copy.deepcopy(v) for k, v in ADDED_LATER.items() if k not in d}, **d}


def read_state(out: str | Path) -> dict:
    """OUT/last.pt as plain data and tensors (weights_only: a run folder cannot run code on load)."""
    path = Path(out) / "last.pt"
    if not path.exists():
        raise FerxError(f"{path}: no training state to resume from")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # pickle refuses non-tensor objects; torch raises several types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
        raise FerxError(f"{path}: not a training state ferx can load safely ({first})") from None
    if not isinstance(state, dict) or "config" not in state:
        raise FerxError(f"{path}: not a training state (no saved configuration)")
    return state


def changed_options(given: dict, default: dict, saved: dict) -> list[str]:
    """Keys set in `given` (away from the defaults) to another value than the run saved: resume refuses them."""
    return [k for k in given if k != "out" and given[k] != default.get(k) and given[k] != saved.get(k)]
