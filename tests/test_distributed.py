"""Data-parallel training on 2 CPU processes (gloo): the same step as one process, one results folder, resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from conftest import history, start_until_first_epoch
from ferx.model import MiniXception
from ferx.training.train import TrainConfig, train_step

STEP = '''
import sys, torch
from ferx.model import MiniXception
from ferx.training.distributed import cleanup, setup, wrap
from ferx.training.train import TrainConfig, train_step

world, device = setup("cpu")
torch.manual_seed(0)
net = MiniXception().eval()  # no dropout; BatchNorm from running statistics, so a half batch sees the same network
x, y = torch.load(sys.argv[1])
half = slice(world.rank * len(y) // 2, (world.rank + 1) * len(y) // 2)
opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.05)
train_step(wrap(net, world, device), opt, x[half], y[half], TrainConfig(bf16=False))
if world.main:
    torch.save(net.state_dict(), sys.argv[2])
cleanup()
'''
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
ARGS = ["--epochs", "2", "--limit", "200", "--batch-size", "16", "--nproc", "2"]


def test_two_ranks_on_two_halves_step_like_one_process_on_the_batch(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(8, 1, 48, 48, generator=gen), torch.arange(8) % 7
    torch.save((x, y), tmp_path / "batch.pt")
    (tmp_path / "step.py").write_text(STEP)
    subprocess.run([*TORCHRUN, str(tmp_path / "step.py"), str(tmp_path / "batch.pt"), str(tmp_path / "ddp.pt")],
                   check=True, capture_output=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    torch.manual_seed(0)
    net = MiniXception().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.05)
    train_step(net, opt, x, y, TrainConfig(bf16=False))
    ddp = torch.load(tmp_path / "ddp.pt")
    # Adam's first step is about lr * sign(gradient): where a gradient is near 0, summation-order rounding shows up
    # magnified, so the tolerance is 1% of the step (a rank stepping on its half alone differs by up to 2 lr).
    step = max((v - before[k]).abs().max().item() for k, v in net.state_dict().items())
    assert step == pytest.approx(1e-2, rel=0.05)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=0, atol=1e-2 * step)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def ferx(*args: str) -> list[str]:
    return [sys.executable, "-m", "ferx", *args]


@pytest.fixture(scope="module")
def two_rank_run(fer_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A failure shows the ranks' stderr; one failed attempt is retried with that stderr kept as a warning in the CI
    # log. That is how the cause of an occasional failure was found (rank 1 aborted by gloo when it left the group
    # before rank 0 had saved; distributed.cleanup() now waits at a barrier): a new warning here is a new failure.
    for attempt in (1, 2):
        out = tmp_path_factory.mktemp("ddp")
        run = subprocess.run(ferx("train", "--data", str(fer_root), "--out", str(out), *ARGS), capture_output=True,
                             text=True, timeout=300)
        if run.returncode == 0:
            return out
        tail = f"exit {run.returncode}; stderr ends: {run.stderr[-4000:]}"
        if attempt == 1:
            warnings.warn(f"two-rank run failed, retrying once: {tail}")
    pytest.fail(f"two-rank run failed twice: {tail}")


def test_two_rank_run_writes_one_results_folder(two_rank_run: Path) -> None:
    assert [int(r["epoch"]) for r in history(two_rank_run)] == [1, 2]
    config = json.loads((two_rank_run / "config.json").read_text())
    assert (config["world_size"], config["effective_batch_size"], config["batch_per_process"]) == (2, 16, 8)
    assert config["effective_lr"] == config["lr"] == TrainConfig.lr
    metrics = json.loads((two_rank_run / "metrics.json").read_text())
    assert metrics["views"]["n_images"] == 200
    assert not list(two_rank_run.glob(".*tmp*")) and not list(two_rank_run.glob("*rank*"))
    assert len(list(two_rank_run.glob("*.pt"))) == 2  # best_model.pt and last.pt, written once


def test_two_rank_run_resumes_after_a_kill(two_rank_run: Path, fer_root: Path, tmp_path: Path) -> None:
    proc = start_until_first_epoch(ferx("train", "--data", str(fer_root), "--out", str(tmp_path), *ARGS), tmp_path, 240)
    for pid in [proc.pid, *descendants(proc.pid)]:  # torchrun starts each rank in a session of its own
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(history(tmp_path))
    assert killed_at == 1
    subprocess.run(ferx("train", "--resume", str(tmp_path), "--nproc", "2"), check=True, capture_output=True,
                   timeout=300)
    assert history(tmp_path) == history(two_rank_run)  # each rank's draws came back from (seed, epoch, rank)
