"""Values no run can use are one-line errors (exit 2) from the library itself, so Python users get them too (16.4)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ferx import EmotionRecognizer, FerxError
from ferx.cli import main
from ferx.inference.faces.crop import check_boxes, crop_faces
from ferx.training.augment import AugmentConfig
from ferx.training.train import TrainConfig

from test_bad_input import error_line

NO_CUDA = not torch.cuda.is_available()


@pytest.mark.parametrize("option, problem", [
    (["--epochs", "0"], "--epochs 0: must be at least 1"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--val-fraction", "-0.1"], "--val-fraction -0.1: a share"),  # 0 is allowed: train on every face
    (["--val-fraction", "1"], "--val-fraction 1: a share"),
    (["--limit", "0"], "--limit 0: must be at least 1"),
    (["--limit", "5"], "--limit 5: too few images for a stratified split"),  # 5 images, 7 classes
    (["--limit", "20"], "--val-fraction 0.1 of --limit 20: too few images"),  # 2 validation images, 7 classes
    (["--device", "gpu"], "--device gpu: not a torch device"),
    pytest.param(["--device", "cuda"], "--device cuda: this torch build sees no CUDA GPU",
                 marks=pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA GPU")),
])
def test_unusable_training_values(option: list[str], problem: str, small_dataset: Path, tmp_path: Path, capsys) -> None:
    err = error_line(capsys, ["train", "--data", str(small_dataset), "--out", str(tmp_path / "out"), *option])
    assert problem in err
    assert not (tmp_path / "out").exists(), "nothing written"


@pytest.mark.parametrize("kwargs, problem", [
    ({"epochs": 0}, "--epochs 0"), ({"batch_size": 0}, "--batch-size 0"), ({"val_fraction": -0.1}, "--val-fraction -0.1"),
    ({"lr": -1.0}, "--lr -1"), ({"device": "gpu"}, "--device gpu"), ({"mixup_alpha": -0.5}, "--mixup -0.5"),
    ({"augment": AugmentConfig(scale=(1.1, 0.9))}, "--scale 1.1 0.9"), ({"augment": AugmentConfig(erase=2.0)}, "--erase 2"),
    ({"augment": AugmentConfig(light=1.0)}, "--light 1"),
])
def test_train_config_checks_itself(kwargs: dict, problem: str) -> None:
    with pytest.raises(FerxError, match=problem):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("device, problem", [
    ("gpu", "not a torch device"),
    pytest.param("cuda", "sees no CUDA GPU", marks=pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA GPU")),
])
def test_unusable_inference_device(device: str, problem: str, tmp_path: Path, capsys) -> None:
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(tmp_path / "face.png")
    err = error_line(capsys, ["predict", str(tmp_path / "face.png"), "--no-detect", "--device", device])
    assert f"--device {device}" in err and problem in err
    with pytest.raises(FerxError, match=problem):
        EmotionRecognizer(device=device, backend="torch")


def test_recognizer_batch_size_checked() -> None:
    with pytest.raises(FerxError, match="batch_size 0"):
        EmotionRecognizer(batch_size=0)


@pytest.mark.parametrize("box, problem", [
    ((10, 10, 0, 20), "at least 1 pixel"), ((10, 10, 20, -5), "at least 1 pixel"),
    ((5000, 10, 20, 20), "outside the 100x80 image"), ((-500, -500, 30, 30), "outside the 100x80 image"),
    ((-10**6, -10**6, 2 * 10**6, 2 * 10**6), "more than twice the size"), ((1, 2, 3), "four numbers"),
])
def test_unusable_user_boxes(box, problem: str) -> None:
    rec = EmotionRecognizer(detector=None, tta="none")
    with pytest.raises(FerxError, match=problem):
        rec.predict(np.zeros((80, 100), np.uint8), boxes=[box])


def test_boxes_overhanging_the_image_crop_as_if_the_whole_image_were_padded() -> None:
    """Only the part under each box is padded now; the crops are those of padding the whole image by the overhang."""
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (80, 100), np.uint8)
    boxes = check_boxes([(-30, -20, 60, 60), (70, 50, 90, 40), (0, 0, 100, 80), (95, 75, 3, 3)], gray.shape)
    pad = 200
    padded = np.pad(gray, pad, mode="edge")
    shifted = [(x + pad, y + pad, w, h) for x, y, w, h in boxes]
    np.testing.assert_array_equal(crop_faces(gray, boxes), crop_faces(padded, shifted))


def test_loading_weights_checks_the_device() -> None:
    from ferx.weights import load_weights, pretrained_path

    with pytest.raises(FerxError, match="--device gpu: not a torch device"):
        load_weights(pretrained_path(), "gpu")
