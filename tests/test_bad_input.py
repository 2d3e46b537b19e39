"""Every bad input gives one line naming the file and the problem, exit code 2, no traceback."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from ferx import MiniXception
from ferx.cli import main
from ferx.data.fer2013 import load_train_test
from ferx.model import MODEL_CONFIGS

from conftest import make_folder_dataset


def error_line(capsys: pytest.CaptureFixture, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("ferx: error: ")
    return err


def train_args(data: Path, tmp_path: Path) -> list[str]:
    return ["train", "--data", str(data), "--out", str(tmp_path / "out"), "--epochs", "1"]


def test_missing_path(tmp_path: Path, capsys) -> None:
    err = error_line(capsys, train_args(tmp_path / "nope", tmp_path))
    assert "nope" in err and "no such file" in err
    assert not (tmp_path / "out").exists(), "nothing written"


def test_misspelt_class_folder(small_dataset: Path, tmp_path: Path, capsys) -> None:
    (small_dataset / "train" / "happy").rename(small_dataset / "train" / "hapy")
    err = error_line(capsys, train_args(small_dataset, tmp_path))
    assert "hapy" in err and "misspelt" in err


def test_empty_class_folder(small_dataset: Path, tmp_path: Path, capsys) -> None:
    for f in (small_dataset / "test" / "fear").iterdir():
        f.unlink()
    err = error_line(capsys, train_args(small_dataset, tmp_path))
    assert str(small_dataset / "test" / "fear") in err and "no images" in err


@pytest.mark.parametrize("content,problem", [(b"", "empty file"), (b"not a jpeg at all", "unreadable image")])
def test_bad_image_in_small_dataset(small_dataset: Path, tmp_path: Path, capsys, content: bytes, problem: str) -> None:
    bad = small_dataset / "train" / "sad" / "broken.jpg"
    bad.write_bytes(content)
    err = error_line(capsys, train_args(small_dataset, tmp_path))
    assert str(bad) in err and problem in err


def test_few_corrupt_images_in_a_large_dataset_are_skipped_and_counted(fer_root: Path, tmp_path: Path, caplog) -> None:
    root = make_folder_dataset(fer_root, tmp_path / "fer", per_class=30)
    (root / "train" / "sad" / "broken.jpg").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        splits = load_train_test(root)
    assert len(splits["train"]) == 7 * 30
    assert "skipped 1 unreadable image(s) of 211" in caplog.text and "broken.jpg" in caplog.text


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_with_wrong_columns(tmp_path: Path, capsys) -> None:
    path = write_csv(tmp_path / "fer2013.csv", "label,image,split", ["0,1 2 3,Training"])
    err = error_line(capsys, train_args(path, tmp_path))
    assert str(path) in err and "expected columns emotion,pixels,Usage" in err


def test_csv_row_with_wrong_pixel_count(tmp_path: Path, capsys) -> None:
    good = " ".join(["128"] * 2304)
    path = write_csv(tmp_path / "fer2013.csv", "emotion,pixels,Usage", [f"3,{good},Training", f"3,{' '.join(['1'] * 2300)},Training"])
    err = error_line(capsys, train_args(path, tmp_path))
    assert f"{path}:3:" in err and "2300 pixel values, expected 2304" in err


def test_weights_for_another_architecture(tmp_path: Path, capsys) -> None:
    weights = tmp_path / "original.pt"
    torch.save(MiniXception(**MODEL_CONFIGS["original"]).state_dict(), weights)
    err = error_line(capsys, ["evaluate", "--weights", str(weights), "--out", str(tmp_path / "out")])
    assert str(weights) in err and "another architecture" in err


def test_weights_file_that_is_not_a_checkpoint(tmp_path: Path, capsys) -> None:
    weights = tmp_path / "model.pt"
    weights.write_text("hello")
    err = error_line(capsys, ["evaluate", "--weights", str(weights), "--out", str(tmp_path / "out")])
    assert str(weights) in err and "not a PyTorch weights file" in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from ferx.errors import FerxError

    with pytest.raises(FerxError):
        main(["--debug", *train_args(tmp_path / "nope", tmp_path)])


def test_resume_without_state(tmp_path: Path, capsys) -> None:
    err = error_line(capsys, ["train", "--resume", str(tmp_path)])
    assert "last.pt" in err and "no training state" in err


@pytest.mark.parametrize("option,problem", [
    (["--mixup", "-0.5"], "must be positive"), (["--class-weight", "-0.5"], "must be positive"),
    (["--weight-decay", "-0.5"], "must be positive"), (["--rotate", "-0.5"], "must be positive"),
    (["--erase", "1.5"], "between 0 and 1"), (["--scale", "1.1", "0.9"], "0 < LOW <= HIGH"),
])
def test_out_of_range_training_option(option: list[str], problem: str, fer_root: Path, tmp_path: Path, capsys) -> None:
    err = error_line(capsys, [*train_args(fer_root, tmp_path), *option])
    assert " ".join(option) in err and problem in err
    assert not (tmp_path / "out").exists(), "nothing written"


@pytest.mark.parametrize("device,problem", [("gpu", "not a torch device"), ("cuda", "sees no CUDA GPU")])
def test_unusable_training_device(device: str, problem: str, small_dataset: Path, tmp_path: Path, capsys) -> None:
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    err = error_line(capsys, [*train_args(small_dataset, tmp_path), "--device", device])
    assert f"--device {device}" in err and problem in err
    assert not (tmp_path / "out").exists(), "nothing written"
