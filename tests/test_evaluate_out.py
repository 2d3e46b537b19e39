"""ferx evaluate --out DIR uses DIR's training summary and curves only for DIR's own weights (issue 16.6)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import torch

from ferx.cli import main
from ferx.weights import card_path, load_model, pretrained_path, save_card


def _other_run(out: Path) -> None:
    """What another run left in `out`: its summary and history."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"command": "ferx train --seed 99 OTHER-RUN", "best_epoch": 2,
                                                  "epochs_run": 2, "train_wall_seconds": 5940.0, "machine": "elsewhere"}))
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"])
        w.writerows([[1, 0.001, 1.9, 0.2, 1.8, 0.25, 60.0], [2, 0.002, 1.7, 0.3, 1.6, 0.35, 61.0]])


def test_another_runs_summary_is_not_mixed_in(small_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _other_run(out)
    weights = str(pretrained_path())
    assert main(["evaluate", "--weights", weights, "--data", str(small_dataset), "--out", str(out), "--tta", "none"]) == 0
    readme = (out / "README.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert "OTHER-RUN" not in readme and "Training took" not in readme and "## Training curves" not in readme
    assert metrics["summary"]["command"].startswith("ferx evaluate --weights") and "train_wall_seconds" not in metrics["summary"]


def test_the_runs_own_weights_keep_its_summary(small_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _other_run(out)  # here it is this run's own record
    net, card = load_model(pretrained_path())
    torch.save(net.state_dict(), out / "best_model.pt")
    save_card(card, card_path(out / "best_model.pt"))
    assert main(["evaluate", "--weights", str(out / "best_model.pt"), "--data", str(small_dataset), "--out", str(out),
                 "--tta", "none"]) == 0
    readme = (out / "README.md").read_text()
    assert "OTHER-RUN" in readme and "## Training curves" in readme


def test_evaluate_writes_to_a_run_folder_by_default(tmp_path: Path, monkeypatch) -> None:
    import ferx.results.evaluate as evaluate

    seen = []
    monkeypatch.setattr(evaluate, "evaluate_run", lambda weights, data, out, **kw: seen.append(out) or {})
    monkeypatch.setattr("ferx.cli.train.print_headline", lambda metrics: None)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--weights", str(pretrained_path()), "--data", str(tmp_path / "fer")]) == 0
    assert Path(seen[0]).parent == Path("runs")  # never the shipped results/ unless asked for
