"""Copy a run's best weights into the package, with constructor arguments, labels and headline metrics.

Usage: python scripts/package_weights.py [results]
(writes src/ferx/weights/mini_xception_emo.pt and its ONNX export mini_xception_emo.onnx)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from ferx.export import export_onnx
from ferx.weights import PRETRAINED, load_weights, save_packaged

run = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
config = json.loads((run / "config.json").read_text())
metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
headline = {k: metrics[metrics["default"]][k] for k in ("accuracy", "macro_f1", "micro_auc")} if metrics else {}
state = torch.load(run / "best_model.pt", map_location="cpu", weights_only=True)
dest = Path(__file__).resolve().parents[1] / "src" / "ferx" / "weights" / PRETRAINED
save_packaged(state, config["model"], {"test": headline, "tta": metrics.get("default") == "tta"}, dest)
print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB)")
export_onnx(load_weights(dest), dest.with_suffix(".onnx"))
print(f"wrote {dest.with_suffix('.onnx')}")
