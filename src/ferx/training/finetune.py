"""The network a run starts from: fresh, or a ferx checkpoint with its head fitted to the data set's classes."""
from __future__ import annotations

import logging

import torch

from ..model import MiniXception
from ..weights import ModelCard, load_model, pretrained_path

log = logging.getLogger(__name__)

# Fine-tuning defaults (ferx train --init): a few hundred images, features already learnt on FER-2013.
# A lower peak lr keeps the first steps from wrecking those features; fewer, smaller-batch epochs because a small
# set gives ~20 steps per epoch and overfits within a few dozen epochs; the EMA warm-up lets its average follow a
# run of a few hundred steps (a fixed 0.999 would still be mostly the starting weights).
FINETUNE_SCHEDULE = {"epochs": 30, "lr": 1e-3, "batch_size": 32, "patience": 10, "ema_warmup": True}


def init_path(init: str) -> str:
    """The weights file of `--init`: the packaged model for "pretrained", else the path as given."""
    return str(pretrained_path()) if init == "pretrained" else init


def initial_model(model: str, classes: list[str], init: str | None = None) -> tuple[MiniXception, ModelCard]:
    """(network, its card) for `classes`: variant `model` freshly initialised, or the `init` checkpoint.

    From a checkpoint every layer is kept; the head's rows of classes the checkpoint knows are carried over by name
    and the rest start fresh, so a subset of FER-2013's classes (CK+ has no neutral) keeps what was learnt for them.
    """
    if init is None:
        card = ModelCard.for_variant(model, classes)
        return card.build(), card
    src, src_card = load_model(init_path(init))
    card = ModelCard(src_card.architecture, {**src_card.model_args, "num_classes": len(classes)}, list(classes),
                     input_size=src_card.input_size)
    net = card.build()
    state = {k: v for k, v in src.state_dict().items() if not k.startswith("head.")}
    net.load_state_dict(state, strict=False)
    known = [(i, src_card.classes.index(c)) for i, c in enumerate(classes) if c in src_card.classes]
    with torch.no_grad():
        for new, old in known:
            net.head.weight[new] = src.head.weight[old]
            net.head.bias[new] = src.head.bias[old]
    fresh = [c for c in classes if c not in src_card.classes]
    log.info("init from %s: head rows carried over for %d of %d classes%s", init, len(known), len(classes),
             f", fresh for {fresh}" if fresh else "")
    return net.train(), card
