"""A short real training on a FER-2013 subset: artefacts, loading snippet, determinism, resume after a kill."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import history, start_until_first_epoch
from ferx import CLASSES, FerxError, MiniXception
from ferx.inference.runtime import OnnxModel
from ferx.cli import build_parser, main
from ferx.cli.train import _train_config
from ferx.results.report import ARTEFACTS
from ferx.training.train import TrainConfig, class_weights, train

ARGS = ["--epochs", "3", "--limit", "500", "--batch-size", "64"]


@pytest.fixture(scope="module")
def run(fer_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--data", str(fer_root), "--out", str(out), *ARGS]) == 0
    return out


def test_training_writes_every_artefact(run: Path) -> None:
    for name, _ in ARTEFACTS:
        assert (run / name).stat().st_size > 0, name
    assert (run / "README.md").exists() and (run / "last.pt").exists()
    assert not list(run.glob(".*tmp*")), "no temporary files left behind"
    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert list(rows[0]) == ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc"]


def test_best_model_loads_with_the_published_snippet(run: Path) -> None:
    model = MiniXception(num_classes=7)
    model.load_state_dict(torch.load(run / "best_model.pt", map_location="cpu"))
    model.eval()
    assert model(torch.rand(2, 1, 48, 48)).shape == (2, 7)


def test_metrics_match_the_report_and_the_best_epoch(run: Path) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    m = metrics[metrics["default"]]
    assert m["n_images"] == 500
    assert sum(map(sum, m["confusion_matrix"])) == 500
    report = (run / "classification_report.txt").read_text()
    assert f"{m['accuracy']:.4f}" in report
    rows = history(run)
    best = max(rows, key=lambda r: float(r["val_acc"]))
    assert metrics["summary"]["best_epoch"] == int(best["epoch"])
    readme = (run / "README.md").read_text()
    assert f"{m['accuracy']:.4f}" in readme and "nan" not in readme.lower()
    assert metrics["summary"]["command"].startswith("ferx train")


def train_only(fer_root: Path, out: Path, *extra: str) -> None:
    """`ferx train` without its end-of-run test evaluation, which these tests do not read."""
    train(_train_config(build_parser().parse_args(["train", "--data", str(fer_root), "--out", str(out), *ARGS,
                                                   *extra])))


def test_same_seed_same_history(run: Path, fer_root: Path, tmp_path: Path) -> None:
    train_only(fer_root, tmp_path)
    assert history(tmp_path) == history(run)
    other = tmp_path / "seed1"
    train_only(fer_root, other, "--seed", "1")
    assert history(other) != history(run)


def test_resume_after_kill_continues_the_same_run(run: Path, fer_root: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "ferx.cli", "train", "--data", str(fer_root), "--out", str(tmp_path), *ARGS]
    proc = start_until_first_epoch(cmd, tmp_path, 120)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(history(tmp_path))
    assert 1 <= killed_at < 3
    first_attempt = torch.load(tmp_path / "last.pt", weights_only=True)["wall_seconds"]  # plain data and tensors
    assert main(["train", "--resume", str(tmp_path)]) == 0
    assert history(tmp_path) == history(run)
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    resumed_epochs = sum(float(r["seconds"]) for r in rows[killed_at:])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["train_wall_seconds"] >= first_attempt + resumed_epochs  # both attempts count
    assert summary["command"] == "ferx " + " ".join(cmd[3:])  # the command that started the run, not --resume


def test_evaluate_a_plain_state_dict_of_another_variant(fer_root: Path, tmp_path: Path) -> None:
    from ferx.model import MODEL_CONFIGS

    weights = tmp_path / "original.pt"
    torch.save(MiniXception(**MODEL_CONFIGS["original"]).state_dict(), weights)
    args = ["evaluate", "--weights", str(weights), "--model", "original", "--data", str(fer_root), "--limit", "70"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["params"] == 56_951 and metrics["views"]["n_images"] == 70 and metrics["default"] == "views"
    assert main([*args, "--out", str(tmp_path / "flip"), "--tta", "flip"]) == 0
    readme = (tmp_path / "flip" / "README.md").read_text()
    assert "| face + mirror (default) |" in readme and "chosen by `--tta flip`" in readme


def test_training_options_reach_the_run(run: Path, fer_root: Path, tmp_path: Path) -> None:
    def gap(out: Path) -> float:
        """Distance between the weight average and the trained weights at the end of the run."""
        state = torch.load(out / "last.pt", weights_only=False)
        ema = {k.removeprefix("module."): v for k, v in state["ema"].items()}
        return sum((ema[k] - v).float().norm().item() for k, v in state["model"].items() if v.is_floating_point())

    out = tmp_path / "options"
    args = ["--mixup", "0.2", "--ema-warmup", "--class-weight", "0.5", "--weight-decay", "0.1",
            "--rotate", "15", "--scale", "0.85", "1.15", "--erase", "0.5"]  # the first shipped model's, not today's
    train_only(fer_root, out, *args)  # ARGS and these
    config = json.loads((out / "config.json").read_text())
    assert (config["mixup_alpha"], config["ema_warmup"], config["class_weight_power"], config["weight_decay"]) == (
        0.2, True, 0.5, 0.1)
    assert {k: config["augment"][k] for k in ("max_rotate", "scale", "erase", "flip")} == {
        "max_rotate": 15.0, "scale": [0.85, 1.15], "erase": 0.5, "flip": 0.5}
    assert history(out) != history(run)  # mixup and the weighted loss changed what the model saw
    # ~24 updates: a fixed 0.999 average is still almost the random init, the warmed-up one follows the model.
    assert gap(out) < 0.5 * gap(run)


def test_class_weights_favour_rare_classes() -> None:
    labels = np.array([0] * 64 + [1] * 16 + [2] * 4)  # class 3 absent
    w = class_weights(labels, 4, 0.5)
    assert torch.allclose(w[:3] / w[0], torch.tensor([1.0, 2.0, 4.0]))  # count^-0.5
    assert w[3] == 0
    assert torch.isclose(w[labels].mean(), torch.tensor(1.0))  # the average training image keeps weight 1
    assert torch.equal(class_weights(labels, 4, 0.0)[:3], torch.ones(3))


def test_class_weights_reach_every_training_loss(small_dataset: Path, tmp_path: Path, monkeypatch) -> None:
    import torch.nn.functional as F

    import ferx.training.train
    from ferx.data.fer2013 import load_dataset

    seen: list[torch.Tensor | None] = []
    cross_entropy = F.cross_entropy

    def spy(logits, target, weight=None, **kwargs):
        seen.append(weight)
        return cross_entropy(logits, target, weight, **kwargs)

    monkeypatch.setattr(ferx.training.train.F, "cross_entropy", spy)
    for f in sorted((small_dataset / "train" / "disgust").iterdir())[:8]:  # a rare class, as in FER-2013
        f.unlink()
    cfg = ferx.training.train.TrainConfig(data=str(small_dataset), out=str(tmp_path / "out"), epochs=1, batch_size=16,
                                 class_weight_power=0.5, bf16=False)
    ferx.training.train.train(cfg)
    labels = load_dataset(cfg.data, cfg.val_fraction, cfg.seed)["train"].labels
    steps = -(-len(labels) // cfg.batch_size)
    assert len(seen) >= steps  # every training step; validation calls it too, unweighted
    expected = class_weights(labels, 7, 0.5)
    assert expected[1] > 1.5 * expected[0]  # disgust weighs more
    assert all(torch.equal(w, expected) for w in seen[:steps])
    assert all(w is None for w in seen[steps:])


def test_training_writes_to_a_run_folder_of_its_own(tmp_path: Path, monkeypatch) -> None:
    """`ferx train` without --out never aims at results/ (the shipped run): runs/<date-time> or runs/NAME (16.1)."""
    import ferx.training.train as training

    monkeypatch.chdir(tmp_path)
    seen = []

    def fake_train(cfg, resume=False, command=""):
        seen.append(cfg.out)
        raise FerxError("stop here")  # the folder choice is what is tested; a real run is test_training_writes_...

    monkeypatch.setattr(training, "train", fake_train)
    assert main(["train", "--data", str(tmp_path)]) == 2
    assert main(["train", "--data", str(tmp_path), "--name", "quick"]) == 2
    (tmp_path / seen[0]).mkdir(parents=True)
    assert main(["train", "--data", str(tmp_path)]) == 2  # the same second: another folder, not the same one
    assert Path(seen[0]).parent == Path("runs") and seen[1] == str(Path("runs") / "quick") and seen[2] != seen[0]
    assert TrainConfig().out.startswith("runs")


def test_readme_commands_leave_the_shipped_results_alone() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.lstrip().startswith(("ferx ", "python3 -m venv"))]
    assert commands and not [c for c in commands if "--out results" in c or "--resume results" in c]


def test_release_makes_a_run_the_shipped_one(run: Path, fer_root: Path, tmp_path: Path) -> None:
    """scripts/release.py RUN: results/, the packaged weights and the README headline, all from that run."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("release", root / "scripts" / "release.py")
    release = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(release)
    fake = tmp_path / "repo"  # a copy of what a release touches, so the real repository is left alone
    shutil.copytree(root / "results", fake / "results")
    (fake / "src" / "ferx" / "weights").mkdir(parents=True)
    shutil.copy(root / "README.md", fake / "README.md")
    with pytest.raises(FerxError, match="--limit"):  # a quick-look run is not shipped by accident
        release.release(run, fer_root, fake)
    assert (fake / "results" / "metrics.json").read_bytes() == (root / "results" / "metrics.json").read_bytes()
    release.release(run, fer_root, fake, allow_partial=True)
    shipped = fake / "results"
    assert (shipped / "metrics.json").read_bytes() == (run / "metrics.json").read_bytes()
    assert (shipped / "best_model.pt").read_bytes() == (run / "best_model.pt").read_bytes()
    assert (shipped / "best_model.json").exists() and not (shipped / "last.pt").exists()
    packaged = torch.load(fake / "src" / "ferx" / "weights" / "mini_xception_emo.pt", weights_only=True)
    published = torch.load(shipped / "best_model.pt", weights_only=True)
    assert all(torch.equal(packaged["state_dict"][k], v) for k, v in published.items())
    assert OnnxModel(fake / "src" / "ferx" / "weights" / "mini_xception_emo.int8.onnx").card.classes == list(CLASSES)
    metrics = json.loads((run / "metrics.json").read_text())
    readme = (fake / "README.md").read_text()
    assert f"| {metrics['views']['accuracy']:.3f} |" in readme and readme != (root / "README.md").read_text()
    assert not [p for p in fake.iterdir() if p.name.startswith(".")], "no staging folders left"


@pytest.mark.parametrize("batch", [111, 127, 3])
def test_channels_last_step_equals_the_nchw_step(batch: int) -> None:
    # the default layout since 2026-11-27 (1.4-1.9x faster here); odd batches once crashed in backward on this torch build
    from ferx.training.train import train_step

    x, y = torch.rand(batch, 1, 48, 48, generator=torch.Generator().manual_seed(batch)), torch.arange(batch) % 7
    nets = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        net = MiniXception(num_classes=7)
        net.head_drop.p = 0.0  # dropout draws its mask in memory order, so the two layouts drop different units
        start = {k: v.clone() for k, v in net.state_dict().items() if v.is_floating_point()}
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        net = net.to(memory_format=fmt)
        opt = torch.optim.SGD(net.parameters(), 0.1)  # Adam's first step is lr * sign(g): rounding flips tiny ones
        cfg = TrainConfig(bf16=False, channels_last=channels_last)
        loss, _ = train_step(net, opt, x.contiguous(memory_format=fmt), y, cfg)
        nets.append((loss.item(), net.state_dict()))
    (loss_a, a), (loss_b, b) = nets
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    # Summation order differs between layouts and between CPUs' kernels: the two updates of a tensor differ by under
    # 1% of the update (batch 3's batch norm up to 1.4e-3 in absolute terms on an AVX2 CPU, 5e-5 on AVX-512); a wrong
    # layout moves the weights somewhere else altogether
    for k, w in start.items():
        step_a, step_b = a[k] - w, b[k] - w
        assert (step_a - step_b).norm() <= 0.05 * step_a.norm() + 1e-7, k


def test_split_seed_fixes_the_validation_faces_while_seed_moves_the_run(fer_root: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """--seed 1 --split-seed 0 validates on seed 0's faces: seeds compare on one split (rule revision 6)."""
    import ferx.training.train as training
    from ferx.data.splits import load_splits

    seen = []

    def stop_after_split(data, val_fraction, seed, *args):
        seen.append(seed)
        raise FerxError("stop here")  # the split's seed is what is tested

    monkeypatch.setattr(training, "load_splits", stop_after_split)
    for extra in ([], ["--split-seed", "0"]):
        assert main(["train", "--data", str(fer_root), "--out", str(tmp_path / str(len(seen))), "--seed", "1",
                     *extra]) == 2
    assert seen == [1, 0]
    val = {s: load_splits(fer_root, 0.1, s, 500)[0]["val"].images for s in (0, 1)}
    assert not np.array_equal(val[0], val[1])  # why the fixed split matters: seed 1 alone validates on other faces
    assert TrainConfig(seed=1, split_seed=0).val_seed == 0 and TrainConfig(seed=1).val_seed == 1


def test_val_fraction_zero_trains_on_every_image_and_keeps_the_last_epoch(fer_root: Path, tmp_path: Path) -> None:
    """--val-fraction 0, a recipe's final model (rule revision 7): every image trains, the last epoch's average ships."""
    from ferx.data.splits import load_splits

    splits = load_splits(fer_root, 0.0, 0, 300)[0]
    assert (len(splits["train"]), len(splits["val"])) == (300, 0)
    out = tmp_path / "all"
    assert main(["train", "--data", str(fer_root), "--out", str(out), "--epochs", "2", "--limit", "300",
                 "--batch-size", "64", "--val-fraction", "0"]) == 0
    assert [(r["val_loss"], r["val_acc"]) for r in history(out)] == [("nan", "nan")] * 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_epoch"] == 2 and summary["best_val_acc"] is None
    ema = torch.load(out / "last.pt", weights_only=False)["ema"]
    best = torch.load(out / "best_model.pt")
    assert all(torch.equal(v, ema[f"module.{k}"]) for k, v in best.items())
    metrics = json.loads((out / "metrics.json").read_text())
    assert "calibration" not in metrics and metrics["summary"]["best_epoch"] == 2
    readme = (out / "README.md").read_text()
    assert "the last epoch (2; trained on every training image, no validation split)" in readme
    assert "nan" not in readme.lower()
    with pytest.raises(FerxError, match="--val-fraction 1: a share of the training images"):
        TrainConfig(val_fraction=1.0)
