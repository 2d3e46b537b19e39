"""scripts/gpu_search.py on a CPU: recipes run as the ferx loop, scored on validation, reported in one JSON."""
from __future__ import annotations

import json
import lzma
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_search.py"


def test_search_scores_each_recipe_on_validation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(700) % 7
    images, arrays = rng.integers(0, 256, (700, 48, 48), dtype=np.uint8), tmp_path / "parts"
    arrays.mkdir()
    for i, part in enumerate(np.array_split(np.arange(700), 2)):  # as scripts/gpu_train.py pack writes them
        with lzma.open(arrays / f"train-{i}.npy.xz", "wb") as f:
            np.save(f, images[part])
            np.save(f, labels[part])
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(SCRIPT), "run", "--smoke", "--device", "cpu", "--arrays", str(arrays),
                    "--root", str(tmp_path / "runs"), "--out", str(out), "--only", "base-s0", "deep-narrow"],
                   check=True, capture_output=True, timeout=300)
    runs = json.loads((out / "search.json").read_text())["runs"]
    assert runs["wd0.02"]["state"] == "not started"
    for name in ("base-s0", "deep-narrow"):
        r = runs[name]
        assert r["state"] == "done" and len(r["history"]) == 1
        for key in ("views", "flip", "none"):
            assert all(0 <= r[key][m] <= 1 for m in ("accuracy", "macro_f1", "micro_auc"))
    # Each recipe built its own architecture and wrote its full recipe (BASE plus overrides).
    assert runs["deep-narrow"]["params"] == 656_791 and runs["base-s0"]["params"] == 770_599
    config = json.loads((tmp_path / "runs" / "deep-narrow" / "config.json").read_text())
    assert config["augment"]["erase"] == 0.5 and config["model"] == "search-deep-narrow"
    table = subprocess.run([sys.executable, str(SCRIPT), "table", str(out / "search.json")],
                           check=True, capture_output=True, text=True).stdout
    assert "| deep-narrow |" in table and "| wd0.02 |" not in table
