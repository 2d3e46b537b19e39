"""Copy a run's best weights into the package, with constructor arguments, labels and headline metrics.

Usage: python scripts/package_weights.py [results] [--data ../shared/fer2013]
(writes src/ferx/weights/mini_xception_emo.pt, its ONNX export mini_xception_emo.onnx and the int8
quantisation mini_xception_emo.int8.onnx, calibrated on 1,024 seeded training faces of --data)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ferx.export import calibration_faces, export_onnx, quantize_onnx
from ferx.weights import PRETRAINED, load_weights, save_packaged

p = argparse.ArgumentParser()
p.add_argument("run", nargs="?", default="results")
p.add_argument("--data", default="../shared/fer2013")
args = p.parse_args()
run = Path(args.run)
config = json.loads((run / "config.json").read_text())
metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
headline = {k: metrics[metrics["default"]][k] for k in ("accuracy", "macro_f1", "micro_auc")} if metrics else {}
state = torch.load(run / "best_model.pt", map_location="cpu", weights_only=True)
dest = Path(__file__).resolve().parents[1] / "src" / "ferx" / "weights" / PRETRAINED
save_packaged(state, config["model"], {"test": headline, "tta": metrics.get("default")}, dest)
print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB)")
export_onnx(load_weights(dest), dest.with_suffix(".onnx"))
quantize_onnx(dest.with_suffix(".onnx"), dest.with_suffix(".int8.onnx"), calibration_faces(args.data))
for path in (dest.with_suffix(".onnx"), dest.with_suffix(".int8.onnx")):
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
