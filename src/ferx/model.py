"""Mini-Xception for facial-expression recognition.

Arriaga, Ploeger, Valdenegro: "Real-time Convolutional Neural Networks for Emotion and Gender
Classification", 2017 (arXiv:1710.07557). A small conv stem, residual blocks of depthwise-separable
convolutions with strided 1x1 shortcuts, a conv to the classes and global average pooling.
ferx widens it and keeps the pixel normalisation inside the model so a checkpoint is self-contained.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .errors import FerxError

__all__ = ["MiniXception", "CLASSES", "MODEL_CONFIGS", "build_model", "to_input"]

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# Constructor arguments of named variants; "original" is the layout of the paper (57K parameters).
MODEL_CONFIGS: dict[str, dict] = {
    "original": dict(stem_widths=(8, 8), stem_stride=1, widths=(16, 32, 64, 128), depth=2),
    "emo": dict(),  # the defaults below: the model ferx ships
}

# FER-2013 train-set pixel statistics in [0, 1].
FER_MEAN, FER_STD = 0.5077, 0.2550


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 faces (N, 48, 48) -> the model's input: float (N, 1, 48, 48) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).float().div_(255)


def conv_bn_relu(in_chans: int, out_chans: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, 3, stride, 1, bias=False), nn.BatchNorm2d(out_chans), nn.ReLU(inplace=True)
    )


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1 convolution, followed by batch norm."""

    def __init__(self, in_chans: int, out_chans: int):
        super().__init__(
            nn.Conv2d(in_chans, in_chans, 3, padding=1, groups=in_chans, bias=False),
            nn.Conv2d(in_chans, out_chans, 1, bias=False),
            nn.BatchNorm2d(out_chans),
        )


class XceptionBlock(nn.Module):
    """`depth` separable convs and a stride-2 max-pool, plus a strided 1x1 conv shortcut."""

    def __init__(self, in_chans: int, out_chans: int, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [SeparableConv(in_chans if i == 0 else out_chans, out_chans), nn.ReLU(inplace=True)]
        layers[-1] = nn.MaxPool2d(3, stride=2, padding=1)  # the last ReLU comes after the residual sum
        self.residual = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.Conv2d(in_chans, out_chans, 1, stride=2, bias=False), nn.BatchNorm2d(out_chans))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.residual(x) + self.shortcut(x))


class MiniXception(nn.Module):
    """Mini-Xception; input (N, in_chans, 48, 48) pixels in [0, 1], output logits (N, num_classes)."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        stem_widths: tuple[int, int] = (32, 64),
        stem_stride: int = 2,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        depth: int = 2,
        drop_rate: float = 0.2,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("mean", torch.full((1, in_chans, 1, 1), FER_MEAN))
        self.register_buffer("std", torch.full((1, in_chans, 1, 1), FER_STD))
        # A strided second stem conv halves the cost of every later layer; the 48x48 max-pools
        # of the original dominate CPU training time.
        self.stem = nn.Sequential(
            conv_bn_relu(in_chans, stem_widths[0]), conv_bn_relu(stem_widths[0], stem_widths[1], stem_stride)
        )
        blocks, chans = [], stem_widths[1]
        for width in widths:
            blocks.append(XceptionBlock(chans, width, depth))
            chans = width
        self.blocks = nn.Sequential(*blocks)
        self.num_features = chans
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Conv2d(chans, num_classes, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.head(self.head_drop(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build_model(name: str = "emo", num_classes: int = 7) -> MiniXception:
    """A named variant of MODEL_CONFIGS."""
    if name not in MODEL_CONFIGS:
        raise FerxError(f"unknown model {name!r}; choose from {sorted(MODEL_CONFIGS)}")
    return MiniXception(num_classes=num_classes, **MODEL_CONFIGS[name])
