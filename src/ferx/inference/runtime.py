"""onnxruntime on the CPU behind the torch model's call signature (tensor in, logits out)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import FerxError
from ..weights import card_from_metadata


class OnnxModel:
    """Runs an exported model with onnxruntime on the CPU; called like the torch model (tensor in, tensor out).

    `card`: the ModelCard stored in the file's metadata by `ferx export` (classes, input size, temperature).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # Spinning worker threads would steal the cores from OpenCV's face detector between calls.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        if not Path(path).is_file():
            raise FerxError(f"{path}: no such ONNX model file")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            raise FerxError(f"{path}: not an ONNX model ({exc.__class__.__name__})") from None
        self.card = card_from_metadata(self.session.get_modelmeta().custom_metadata_map, path)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(["logits"], {"pixels": np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        return torch.from_numpy(logits)
