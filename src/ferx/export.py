"""ONNX export of a MiniXception with a dynamic batch axis, and an onnxruntime runner with the model's call shape."""
from __future__ import annotations

import os

import numpy as np
import torch

from .files import atomic_path


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, opset: int = 17) -> None:
    """Write `model` as ONNX: input "pixels" (N, 1, 48, 48) in [0, 1], output "logits" (N, classes)."""
    model = model.eval()
    with atomic_path(path) as tmp:
        torch.onnx.export(
            model, (torch.rand(2, 1, 48, 48),), str(tmp), input_names=["pixels"], output_names=["logits"],
            dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset, dynamo=False,
        )


class OnnxModel:
    """Runs an exported model with onnxruntime on the CPU; called like the torch model (tensor in, tensor out)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # Spinning worker threads would steal the cores from OpenCV's face detector between calls.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(["logits"], {"pixels": np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        return torch.from_numpy(logits)
