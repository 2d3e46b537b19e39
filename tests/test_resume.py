"""--resume: no code runs from a run folder, no silent option changes, the run's own values (issue 16.5)."""
from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import pytest
import torch

from ferx import FerxError
from ferx.cli import main
from ferx.training.resume import ADDED_LATER, ORIGINAL
from ferx.training.train import TrainConfig, load_state, train

from test_bad_input import error_line


def _save_state(out: Path, config: dict, **extra) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"config": config, "epoch": 1, **extra}, out / "last.pt")


class Payload:
    """Unpickling it would create a file: what a malicious last.pt could do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_last_pt_is_loaded_without_running_code(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "pwned"
    _save_state(tmp_path / "run", asdict(TrainConfig(out=str(tmp_path / "run"))), extra=Payload(str(marker)))
    err = error_line(capsys, ["train", "--resume", str(tmp_path / "run")])
    assert "not a training state ferx can load safely" in err
    assert not marker.exists()


def test_resume_refuses_other_options(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    _save_state(out, asdict(TrainConfig(out=str(out), epochs=3)))
    err = error_line(capsys, ["train", "--resume", str(out), "--epochs", "10", "--lr=0.1"])
    assert "--epochs, --lr cannot be given with it" in err
    with pytest.raises(FerxError, match="cannot change epochs"):  # the library refuses the same
        train(TrainConfig(out=str(out), epochs=10), resume=True)


def test_a_checkpoint_from_before_a_key_resumes_with_the_value_the_run_used(tmp_path: Path) -> None:
    config = asdict(TrainConfig(out=str(tmp_path), epochs=3))
    for key in ("class_weight_power", "mixup_alpha", "ema_warmup", "teachers"):
        del config[key]  # saved before these options existed
    _save_state(tmp_path, config)
    cfg, _ = load_state(tmp_path)
    assert cfg.class_weight_power == 0.0 != TrainConfig().class_weight_power  # unweighted then, 0.25 today
    assert (cfg.mixup_alpha, cfg.ema_warmup, cfg.teachers, cfg.epochs) == (0.0, False, [], 3)
    del config["epochs"]
    _save_state(tmp_path, config)
    with pytest.raises(FerxError, match="configuration without epochs"):
        load_state(tmp_path)


def test_every_config_key_is_original_or_has_a_recorded_fallback() -> None:
    """A new TrainConfig key needs its pre-existence value in training/resume.py ADDED_LATER."""
    names = {f.name for f in fields(TrainConfig)}
    assert names == set(ORIGINAL) | set(ADDED_LATER)
