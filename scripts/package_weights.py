"""Copy a run's best weights into the package, with their model card and headline metrics.

Usage: python scripts/package_weights.py [results] [--data ../shared/fer2013]
(writes src/ferx/weights/mini_xception_emo.pt {"state_dict", "card", "metrics"} (the card's temperature from the
run's metrics.json "calibration", when it has one), its ONNX export
mini_xception_emo.onnx and the int8 quantisation mini_xception_emo.int8.onnx, both with the card in their
metadata, the int8 one calibrated on 1,024 seeded training faces of --data)
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from ferx.export import calibration_faces, export_onnx, quantize_onnx
from ferx.weights import PRETRAINED, load_model, load_model_card, save_packaged

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "ferx" / "weights"


def package(run: str | os.PathLike, data: str | os.PathLike, dest_dir: str | os.PathLike = WEIGHTS_DIR) -> list[Path]:
    """Write the packaged .pt, .onnx and .int8.onnx of `run` (a results folder) into `dest_dir`; returns their paths."""
    run = Path(run)
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
    headline = {k: metrics[metrics["default"]][k] for k in ("accuracy", "macro_f1", "micro_auc")} if metrics else {}
    # The run's sidecar card (best_model.json); a run from before it existed is the variant its config names.
    card = load_model_card(run / "best_model.pt", model=config["model"])
    if "calibration" in metrics:  # the temperature `ferx train` / `ferx evaluate` fitted on validation for this run
        card.temperature = metrics["calibration"]["temperature"]
    state = torch.load(run / "best_model.pt", map_location="cpu", weights_only=True)
    dest = Path(dest_dir) / PRETRAINED
    save_packaged(state, card, {"test": headline, "tta": metrics.get("default")}, dest)
    net, card = load_model(dest)
    export_onnx(net, dest.with_suffix(".onnx"), card)
    quantize_onnx(dest.with_suffix(".onnx"), dest.with_suffix(".int8.onnx"), calibration_faces(data))
    return [dest, dest.with_suffix(".onnx"), dest.with_suffix(".int8.onnx")]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("run", nargs="?", default="results")
    p.add_argument("--data", default="../shared/fer2013")
    args = p.parse_args()
    for path in package(args.run, args.data):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
