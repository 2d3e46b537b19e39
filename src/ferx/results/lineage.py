"""The steps that made a set of weights, in the order to run them: for a results folder's full sequence of commands."""
from __future__ import annotations

import json
import os
from pathlib import Path

STEP_KEYS = ("command", "train_wall_seconds", "machine")


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def made_by(weights: str | os.PathLike, depth: int = 0) -> list[dict]:
    """Every run behind `weights`, each once, ending with its own: a training run comes after its --init's runs and its
    teachers' runs; an interpolation (summary.json "interpolation") after its two ends' runs.

    A step is {"weights", and what its summary.json keeps of "command", "train_wall_seconds", "machine"}.
    """
    folder = Path(weights).parent
    own_run = Path(weights).name == "best_model.pt"  # a run folder's records describe its best_model.pt alone
    summary, config = (_read(folder / "summary.json"), _read(folder / "config.json")) if own_run else ({}, {})
    earlier: list[dict] = []
    if depth < 10:  # a chain of generations; the bound only guards against a looping record
        mix = summary.get("interpolation")
        init = [config["init"]] if config.get("init") else []
        parents = [mix["start"], mix["tuned"]] if mix else init + list(config.get("teachers") or [])
        for path in parents:
            earlier += made_by(path, depth + 1)
    own = {"weights": str(weights), **{k: summary[k] for k in STEP_KEYS if k in summary}}
    steps, seen = [], set()
    for step in earlier + [own]:
        key = Path(step["weights"]).resolve()
        if key not in seen:
            seen.add(key)
            steps.append(step)
    return steps
