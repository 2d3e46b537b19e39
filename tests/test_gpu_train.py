"""scripts/gpu_train.py on a CPU: chains of `ferx train` commands on a carried training split, side by side."""
from __future__ import annotations

import importlib.util
import json
import lzma
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_train.py"


def test_chains_run_their_commands_in_order_on_the_carried_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (700, 48, 48), dtype=np.uint8), np.arange(700) % 7
    arrays = tmp_path / "parts"
    arrays.mkdir()
    for i, part in enumerate(np.array_split(np.arange(700), 3)):
        with lzma.open(arrays / f"train-{i}.npy.xz", "wb") as f:
            np.save(f, images[part])
            np.save(f, labels[part])
    first = ["--name", "a", "--seed", "2", "--split-seed", "0", "--light", "0.3"]
    then = ["--name", "b", "--seed", "2", "--split-seed", "0", "--init", "{root}/a/best_model.pt", "--lr", "1e-3",
            "--teacher", "src/ferx/weights/mini_xception_emo.pt", "--teacher-views", "flip", "--distill-weight", "0.8"]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([[first, then], [["--name", "c", "--seed", "3"]]]))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "run", str(plan), "--out", str(out), "--smoke", "--device",
                           "cpu", "--arrays", str(arrays)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "FERX_CACHE": str(tmp_path / "cache"),
                               "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stderr
    runs = json.loads((out / "status.json").read_text())["runs"]
    assert runs == {n: {"chain": "done", "epochs": 1, "finished": True} for n in "abc"}
    for name in "abc":
        assert (out / name / "best_model.pt").is_file() and not (out / name / "last.pt").exists()
    config = json.loads((out / "b" / "config.json").read_text())
    # the CLI's options, its defaults where the command is silent, and the first run of the chain as the start
    assert config["init"] == str(out / "a" / "best_model.pt") and config["lr"] == 1e-3
    assert config["distill_weight"] == 0.8 and config["teacher_views"] == "flip" and config["epochs"] == 1
    assert json.loads((out / "a" / "config.json").read_text())["augment"]["light"] == 0.3
    assert json.loads((out / "b" / "summary.json").read_text())["command"].startswith("ferx train --name b")
    assert (out / "b" / "history.csv").read_text().count("\n") == 2


def test_parts_load_back_in_order(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gpu_train", SCRIPT)
    gpu_train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_train)
    images = np.random.default_rng(1).integers(0, 256, (23, 48, 48), dtype=np.uint8)
    for i, part in enumerate(np.array_split(np.arange(23), 12)):  # train-10 and train-11 come after train-9
        with lzma.open(tmp_path / f"train-{i}.npy.xz", "wb") as f:
            np.save(f, images[part])
            np.save(f, part % 7)
    split = gpu_train.load_parts(str(tmp_path))
    assert (split.images == images).all() and (split.labels == np.arange(23) % 7).all()
