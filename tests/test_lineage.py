"""A results folder lists every step that made its weights: teachers, --init runs, and the two ends of an interpolation."""
from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ferx.cli import main
from ferx.errors import FerxError
from ferx.results.lineage import made_by
from ferx.training.interpolate import interpolation_run
from ferx.weights import card_path, load_model, pretrained_path, save_card

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, config: dict, summary: dict) -> str:
    """A finished training run's folder: weights (the packaged model's), card, config, summary, a two-epoch history."""
    import torch

    folder.mkdir(parents=True)
    net, card = load_model(pretrained_path())
    torch.save(net.state_dict(), folder / "best_model.pt")
    save_card(card, card_path(folder / "best_model.pt"))
    (folder / "config.json").write_text(json.dumps({"limit": None, **config}))
    (folder / "summary.json").write_text(json.dumps(summary))
    with open(folder / "history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"])
        w.writerows([[1, 0.001, 1.9, 0.2, 1.8, 0.25, 60.0], [2, 0.001, 1.7, 0.3, 1.6, 0.35, 61.0]])
    return str(folder / "best_model.pt")


@pytest.fixture
def two_stages(tmp_path: Path) -> dict[str, str]:
    """Revision 23's shape: a teacher, a distilled stage 1, a stage 2 from stage 1 under the same teacher."""
    teacher = _run(tmp_path / "teacher", {}, {"command": "ferx train --name teacher", "train_wall_seconds": 4092.0,
                                              "machine": "x86_64 CPU, 2 cores"})
    stage1 = _run(tmp_path / "stage1", {"teachers": [teacher]},
                  {"command": "ferx train --name stage1 --teacher-online", "train_wall_seconds": 21600.0})
    stage2 = _run(tmp_path / "stage2", {"init": stage1, "teachers": [teacher]},
                  {"command": "ferx train --name stage2 --init stage1", "train_wall_seconds": 5100.0, "best_epoch": 2,
                   "best_val_acc": 0.35, "epochs_run": 2})
    return {"teacher": teacher, "stage1": stage1, "stage2": stage2}


def test_each_step_once_and_before_the_runs_that_use_it(two_stages: dict[str, str], tmp_path: Path) -> None:
    assert [s["weights"] for s in made_by(two_stages["stage2"])] == [two_stages[k] for k in ("teacher", "stage1", "stage2")]
    theta = interpolation_run(two_stages["stage1"], two_stages["stage2"], 0.2, tmp_path / "theta", "python mix 0.2")
    steps = made_by(theta / "best_model.pt")
    assert [s["weights"] for s in steps] == [two_stages[k] for k in ("teacher", "stage1", "stage2")] + [
        str(theta / "best_model.pt")]
    assert steps[0] == {"weights": two_stages["teacher"], "command": "ferx train --name teacher",
                        "train_wall_seconds": 4092.0, "machine": "x86_64 CPU, 2 cores"}
    assert steps[-1] == {"weights": str(theta / "best_model.pt"), "command": "python mix 0.2"}
    # weights outside a run folder's best_model.pt have no records, even beside a run's files
    assert made_by(tmp_path / "stage2" / "other.pt") == [{"weights": str(tmp_path / "stage2" / "other.pt")}]


def test_a_step_without_records_is_listed_as_such(two_stages: dict[str, str], tmp_path: Path) -> None:
    from ferx.results.report import results_readme

    row = {"accuracy": 0.5, "macro_f1": 0.5, "micro_auc": 0.5, "macro_auc": 0.5, "n_images": 10, "class_auc": {"a": 0.5},
           "confusion_matrix": [[1]], "per_class": {"a": {"precision": 1, "recall": 1, "f1-score": 1, "support": 1}},
           "weighted_f1": 0.5}
    steps = made_by(two_stages["stage1"])[:-1] + [{"weights": "elsewhere/best_model.pt"}]
    text = results_readme({"default": "views", "classes": ["a"], "views": row}, None,
                          {"command": "ferx train --teacher t", "steps": steps})
    assert "Made in 3 steps" in text and "- `elsewhere/best_model.pt`: `command not recorded`" in text
    # a metrics.json written before "steps" named its teacher runs "teachers"
    assert results_readme({"default": "views", "classes": ["a"], "views": row}, None,
                          {"command": "c", "teachers": steps}) == text.replace("ferx train --teacher t", "c")


def test_an_interpolation_run_is_evaluated_and_released_with_its_whole_sequence(
        two_stages: dict[str, str], small_dataset: Path, tmp_path: Path) -> None:
    theta = interpolation_run(two_stages["stage1"], two_stages["stage2"], 0.2, tmp_path / "theta",
                              "python scripts/interpolate_weights.py S T --run 0.2 theta")
    assert main(["evaluate", "--weights", str(theta / "best_model.pt"), "--data", str(small_dataset), "--out", str(theta),
                 "--tta", "none"]) == 0
    readme = (theta / "README.md").read_text()
    order = ["Made in 4 steps", "ferx train --name teacher`, 68.2 minutes of wall time on x86_64 CPU, 2 cores",
             "ferx train --name stage1 --teacher-online`, 360.0 minutes", "ferx train --name stage2 --init stage1`",
             "Then these weights:", "python scripts/interpolate_weights.py S T --run 0.2 theta"]
    assert [readme.index(s) for s in order] == sorted(readme.index(s) for s in order)
    assert f"theta(0.2) = 0.8 x `{two_stages['stage1']}` + 0.2 x `{two_stages['stage2']}`" in readme
    assert "the fine-tune's epoch with the best validation accuracy (epoch 2)" in readme
    assert "The fine-tune's curves" in readme
    assert (theta / "acc_performance.png").is_file() and (theta / "loss_vs_eopoch.png").is_file()
    metrics = _script("release").check_run(theta, allow_partial=True)  # a complete results folder for release.py
    headline = _script("update_readme").headline_block(metrics)
    assert "Made in 4 steps (each one's command and wall time: results/README.md), the last `python scripts/" in headline
    assert "(theta(0.2) towards the fine-tune's best validation epoch 2)" in headline


def test_an_interpolation_run_needs_a_new_folder_and_a_training_runs_weights(two_stages: dict[str, str],
                                                                              tmp_path: Path) -> None:
    with pytest.raises(FerxError, match="already exists"):
        interpolation_run(two_stages["stage1"], two_stages["stage2"], 0.2, tmp_path / "stage1", "c")
    with pytest.raises(FerxError, match="not a training run's best_model.pt"):
        interpolation_run(two_stages["stage1"], str(pretrained_path()), 0.2, tmp_path / "x", "c")
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x-*"))
