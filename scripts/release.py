"""Release a training run: its results folder becomes the shipped results/, its weights the packaged model,
its metrics the README headline. The only way results/ changes (`ferx train` writes to runs/).

Usage: python scripts/release.py RUN_DIR [--data ../shared/fer2013] [--allow-partial]

Everything is prepared beside its destination first (results/ copy, packaged .pt/.onnx/.int8.onnx, README text);
only then are results/ and each weights file swapped in by renames, so a failure before that changes nothing.
Commit the result yourself (git add results src/ferx/weights README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts

from package_weights import package  # noqa: E402
from update_readme import updated_readme  # noqa: E402

from ferx.errors import FerxError  # noqa: E402
from ferx.results.report import ARTEFACTS  # noqa: E402
from ferx.weights import card_path, load_model_card, save_card  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"last.pt"}  # resumable training state: not part of a results folder


def check_run(run: Path, allow_partial: bool) -> dict:
    """The run's metrics, after checking it is a complete, evaluated results folder."""
    missing = [name for name in [n for n, _ in ARTEFACTS if n != "best_model.json"] + ["README.md", "summary.json"]
               if not (run / name).is_file()]
    if missing:
        raise FerxError(f"{run}: not a finished run folder of `ferx train` (missing {', '.join(missing)})")
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    if not allow_partial and (config.get("limit") is not None or metrics[metrics["default"]]["n_images"] != 7178):
        raise FerxError(f"{run}: trained or evaluated on a subset (--limit); pass --allow-partial to ship it anyway")
    return metrics


def release(run: str | os.PathLike, data: str | os.PathLike, root: Path = ROOT, allow_partial: bool = False) -> None:
    """Make `run` the shipped run of the repository at `root` (results/, src/ferx/weights/, README.md)."""
    run = Path(run).resolve()
    metrics = check_run(run, allow_partial)
    results, weights_dir = root / "results", root / "src" / "ferx" / "weights"
    staged = Path(tempfile.mkdtemp(prefix=".results-release-", dir=root))
    weights_tmp = Path(tempfile.mkdtemp(prefix=".weights-release-", dir=weights_dir))
    try:
        for f in sorted(run.iterdir()):
            if f.is_file() and f.name not in SKIP and not f.name.startswith("."):
                shutil.copy2(f, staged / f.name)
        if not card_path(staged / "best_model.pt").exists():  # a run from before the card: its config's variant
            config = json.loads((run / "config.json").read_text())
            save_card(load_model_card(run / "best_model.pt", model=config["model"]), card_path(staged / "best_model.pt"))
        packaged = package(staged, data, weights_tmp)
        readme = updated_readme(root, metrics)
        # Commit: every piece is ready; from here on only renames.
        old = root / ".results-old"
        shutil.rmtree(old, ignore_errors=True)
        if results.exists():
            os.replace(results, old)
        os.replace(staged, results)
        for path in packaged:
            os.replace(path, weights_dir / path.name)
        tmp_readme = root / ".README.md.release"
        tmp_readme.write_text(readme)
        os.replace(tmp_readme, root / "README.md")
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(weights_tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run folder written by `ferx train` (e.g. runs/20261127-2110)")
    p.add_argument("--data", default="../shared/fer2013", help="FER-2013, whose training faces calibrate the int8 model")
    p.add_argument("--allow-partial", action="store_true", help="ship a run trained or evaluated with --limit")
    args = p.parse_args()
    try:
        release(args.run, args.data, allow_partial=args.allow_partial)
    except FerxError as exc:
        sys.exit(f"release: error: {exc}")
    print(f"released {args.run}: results/, src/ferx/weights/ and the README headline; review and commit them")
