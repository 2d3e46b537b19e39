"""Training on any labelled folder: subject splits, class sets of its own, fine-tuning, cross-validation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ferx.cli import build_parser, main
from ferx.data.splits import folds, load_splits
from ferx.training.finetune import FINETUNE_SCHEDULE, initial_model
from ferx.weights import load_model, load_pretrained

# Folder names as other data sets spell them: two alias ferx classes, one (contempt) is new.
FOLDERS = {"Happiness": "happy", "sad": "sad", "contempt": "contempt"}


def make_subject_folder(root: Path, subjects: int = 8, per_class: int = 3) -> Path:
    """ROOT/<class>/S0NN_<k>.png: `subjects` people, each with `per_class` faces of every class."""
    for c, folder in enumerate(FOLDERS):
        (root / folder).mkdir(parents=True)
        for s in range(subjects):
            for k in range(per_class):  # a flat gray that names the subject: subject_of() reads it back
                pixels = np.full((48, 48), 3 * (9 * s + 3 * c + k), np.uint8)
                Image.fromarray(pixels).save(root / folder / f"S{s:03d}_{k}.png")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_subject_folder(tmp_path / "faces")


def test_subject_split_keeps_each_person_on_one_side(folder: Path) -> None:
    splits, classes = load_splits(folder, test_fraction=0.25, group_regex=r"^(S\d+)_", seed=0)
    assert classes == ["happy", "sad", "contempt"]  # ferx classes in ferx order, then the new one
    assert sum(len(s) for s in splits.values()) == 8 * 3 * 3
    subjects = {k: {int(im[24, 24]) // 27 for im in s.images} for k, s in splits.items()}
    assert not subjects["test"] & subjects["train"] and not subjects["val"] & subjects["train"]
    assert not subjects["test"] & subjects["val"]
    assert len(subjects["test"]) == 2  # a quarter of 8 subjects
    again, _ = load_splits(folder, test_fraction=0.25, group_regex=r"^(S\d+)_", seed=0)
    assert np.array_equal(again["test"].images, splits["test"].images)  # seeded
    other, _ = load_splits(folder, test_fraction=0.25, group_regex=r"^(S\d+)_", seed=1)
    assert not np.array_equal(other["test"].images, splits["test"].images)


def test_folds_leave_one_subject_out() -> None:
    labels = np.tile([0, 1, 2], 10)
    groups = np.repeat(np.arange(5), 6)
    seen = []
    for train, test in folds(labels, groups, 5, seed=0):
        assert len(np.unique(groups[test])) == 1 and groups[test][0] not in groups[train]
        seen += groups[test].tolist()
    assert sorted(seen) == sorted(groups.tolist())


def test_train_test_layout_maps_aliases_to_one_label_order(tmp_path: Path) -> None:
    root = tmp_path / "two"
    make_subject_folder(root / "train", subjects=4)
    test = root / "test"
    (test / "sadness").mkdir(parents=True)  # an alias, and a subset of the training classes
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(test / "sadness" / "x.png")
    splits, classes = load_splits(root)
    assert classes == ["happy", "sad", "contempt"]
    assert splits["test"].labels.tolist() == [1]


def test_finetune_init_carries_known_head_rows_and_the_body() -> None:
    src = load_pretrained()
    net, card = initial_model("emo", ["happy", "sad", "contempt"], "pretrained")
    assert card.classes == ["happy", "sad", "contempt"] and card.model_args["num_classes"] == 3
    assert net(torch.zeros(1, 1, 48, 48)).shape == (1, 3)
    assert torch.equal(net.head.weight[0], src.head.weight[3])  # happy is FER-2013's index 3
    assert torch.equal(net.head.weight[1], src.head.weight[5])  # sad, index 5
    assert not any(torch.equal(net.head.weight[2], src.head.weight[i]) for i in range(7))  # contempt: fresh
    assert torch.equal(net.blocks[0].shortcut[0].weight, src.blocks[0].shortcut[0].weight)


def test_finetune_schedule_is_the_default_only_with_init() -> None:
    from ferx.cli.train import _train_config

    p = build_parser()
    plain = _train_config(p.parse_args(["train", "--data", "x"]))
    tuned = _train_config(p.parse_args(["train", "--data", "x", "--init", "pretrained"]))
    mine = _train_config(p.parse_args(["train", "--data", "x", "--init", "pretrained", "--epochs", "3"]))
    assert {k: getattr(tuned, k) for k in FINETUNE_SCHEDULE} == FINETUNE_SCHEDULE
    assert plain.epochs == 72 and plain.lr == 3e-3 and plain.init is None
    assert mine.epochs == 3 and mine.lr == FINETUNE_SCHEDULE["lr"]


def test_train_on_a_three_class_folder_gives_a_three_class_model(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(folder), "--group-regex", r"^(S\d+)_", "--test-fraction", "0.25",
            "--init", "pretrained", "--epochs", "2", "--batch-size", "16", "--out", str(out)]
    assert main(args) == 0
    net, card = load_model(out / "best_model.pt")
    assert card.classes == ["happy", "sad", "contempt"] and net(torch.zeros(1, 1, 48, 48)).shape == (1, 3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["views"]["n_images"] == 2 * 3 * 3  # the 2 held-out subjects' images
    assert set(metrics["views"]["per_class"]) == {"happy", "sad", "contempt"}
    config = json.loads((out / "config.json").read_text())
    assert config["init"] == "pretrained" and config["epochs"] == 2 and config["lr"] == FINETUNE_SCHEDULE["lr"]

    from ferx import EmotionRecognizer

    faces = EmotionRecognizer(weights=str(out / "best_model.pt"), detector=None).predict(np.zeros((48, 48), np.uint8))
    assert set(faces[0].scores) == {"happy", "sad", "contempt"}


def test_crossval_writes_per_fold_and_mean_scores(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "cv"
    assert main(["crossval", "--data", str(folder), "--folds", "4", "--group-regex", r"^(S\d+)_",
                 "--init", "pretrained", "--as-is", "--tta", "none", "--out", str(out)]) == 0
    r = json.loads((out / "crossval.json").read_text())
    assert [f["fold"] for f in r["per_fold"]] == [1, 2, 3, 4]
    assert sum(f["test"] for f in r["per_fold"]) == 72  # every image tested exactly once
    tested = [s for f in r["per_fold"] for s in f["test_subjects"]]
    assert sorted(tested) == [f"S{i:03d}" for i in range(8)]  # each subject in one test fold
    assert r["mean"]["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in r["per_fold"]]))
    readme = (out / "README.md").read_text()
    assert f"{r['per_fold'][0]['accuracy']:.4f}" in readme and "mean ± std" in readme
