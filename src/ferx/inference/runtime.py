"""onnxruntime on the CPU behind the torch model's call signature (tensor in, logits out)."""
from __future__ import annotations

import os
import platform
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import torch

from ..devices import cpu_flags
from ..errors import FerxError
from ..weights import card_from_metadata


_spin = True


def spin_during_runs(on: bool) -> None:
    """Whether sessions made from now on let their workers spin while a run lasts (the default) or sleep between layers.

    Spinning saves 1.4-3.3 ms a photo here when runs follow one another; runs of several requests at once lose more
    to workers spinning beside them (benchmarks/load_test.py: 95-98 against 113-118 requests/s), so `ferx serve`
    turns it off.
    """
    global _spin
    _spin = on


@cache
def int8_overflows() -> bool:
    """Whether this CPU's int8 convolutions add uint8 x int8 product pairs in int16, which 8-bit weights overflow:
    x86 with AVX2 but no VNNI (as an AMD EPYC of 2026-12-07). There the 8-bit int8 classifier scored
    0.644 for 0.684 (benchmarks/int8_overflow.py)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = cpu_flags()
    if flags is not None:
        return not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}
    try:  # elsewhere numpy's own dispatch table (numpy 2; private), which knows AVX-512 VNNI only
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        return True  # unknown: the exact arithmetic is right on every CPU, only slower
    return not __cpu_features__.get("AVX512VNNI", False)


def session_options(threads: int | None = None):
    """onnxruntime options for a session on the CPU: `threads` workers (None: one per core) that spin only during a run."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # Workers that spin between a network's layers save 1-2 ms of wake-ups per run on 2 cores; stopped when each run
    # returns, they do not hold the cores that the next stage (the detector, the classifier, torch's views) needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if _spin else "0")
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    if int8_overflows():  # int8 values widened to int16 before multiplying: exact, as on a VNNI CPU
        opts.add_session_config_entry("session.x64quantprecision", "1")
    if threads:
        opts.intra_op_num_threads = threads
    return opts


class OnnxModel:
    """Runs an exported model with onnxruntime on the CPU; called like the torch model (tensor in, tensor out).

    `card`: the ModelCard stored in the file's metadata by `ferx export` (classes, input size, temperature).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        import onnxruntime as ort

        opts = session_options(threads)
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


def onnx_copy(model: torch.nn.Module, threads: int | None = None) -> OnnxModel:
    """An onnxruntime copy of a CPU torch model (exported in about a second), for long batch jobs such as evaluation."""
    from ..export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(model, Path(tmp) / "model.onnx")
        return OnnxModel(Path(tmp) / "model.onnx", threads)  # the session holds the model in memory
