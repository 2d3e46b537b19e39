"""ONNX export of a MiniXception (dynamic batch axis) and int8 quantisation."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from .errors import FerxError
from .files import atomic_path
from .weights import ONNX_CARD_KEY, ModelCard, load_model, load_model_card


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, card: ModelCard | None = None, opset: int = 17) -> None:
    """Write `model` as ONNX: input "pixels" (N, 1, 48, 48) in [0, 1], output "logits" (N, classes).

    The model card (default: the packaged variant's) goes into the file's metadata_props as JSON.
    """
    model = model.eval()
    card = card or ModelCard.for_variant("emo")
    size = card.input_size
    with atomic_path(path) as tmp:
        torch.onnx.export(
            model, (torch.rand(2, 1, size, size),), str(tmp), input_names=["pixels"], output_names=["logits"],
            dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset, dynamo=False,
        )
        write_card(tmp, card)


def cached_onnx(weights: str | os.PathLike) -> Path:
    """An ONNX copy of .pt weights, exported once per content (weights and card) into the ferx cache folder:
    onnxruntime runs it 3-8x as fast as PyTorch on a CPU (benchmarks/inference.py)."""
    from .data.fer2013 import cache_dir

    card = load_model_card(weights)  # the network itself is built only when there is no copy yet
    key = hashlib.sha256(Path(weights).read_bytes() + json.dumps(card.to_dict(), sort_keys=True).encode())
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / "ferx"):  # the second where the cache is read-only
        path = folder / f"onnx-{key.hexdigest()[:16]}.onnx"
        try:
            if not path.is_file():  # written under a temporary name: two processes may export the same weights
                export_onnx(load_model(weights)[0], path, card)
            return path
        except OSError:
            continue
    raise FerxError(f"{weights}: no writable folder for its ONNX copy ({cache_dir()}, {folder.parent}); "
                    "set FERX_CACHE or use backend='torch'")


def write_card(path: str | os.PathLike, card: ModelCard) -> None:
    """Store `card` as JSON in the metadata_props of the ONNX file at `path` (in place)."""
    import onnx

    proto = onnx.load(str(path))
    props = [p for p in proto.metadata_props if p.key != ONNX_CARD_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(props)
    proto.metadata_props.add(key=ONNX_CARD_KEY, value=json.dumps(card.to_dict()))
    onnx.save(proto, str(path))


def quantize_onnx(src: str | os.PathLike, dst: str | os.PathLike, calibration: np.ndarray, batch_size: int = 128) -> None:
    """Write an int8 copy of the float model `src`, activation ranges calibrated on uint8 faces (N, 48, 48).

    Static QDQ, per-channel 7-bit weights in int8, uint8 activations (the same answers on CPUs with and without VNNI:
    benchmarks/int8_overflow.py).
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .model import to_input

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(calibration), batch_size))

        def get_next(self) -> dict | None:
            i = next(self.batches, None)
            return None if i is None else {"pixels": to_input(calibration[i : i + batch_size]).numpy()}

    with tempfile.TemporaryDirectory() as tmp, atomic_path(dst) as out:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared))  # graph optimisation and shape inference first, as onnxruntime advises
        # reduce_range: CPUs without VNNI (AVX2 laptops) sum pairs of uint8 x int8 products in int16, which 8-bit
        # weights overflow: the 8-bit model scored 0.644 there against 0.683 in float; 7-bit weights cannot overflow.
        quantize_static(str(prepared), str(out), Faces(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        write_card(out, load_model_card(src))  # the float model's card, which quantisation does not carry over


def export_int8(model: torch.nn.Module, path: str | os.PathLike, calibration: np.ndarray,
                card: ModelCard | None = None) -> None:
    """Export `model` to ONNX and write its int8 quantisation to `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(model, Path(tmp) / "float.onnx", card)
        quantize_onnx(Path(tmp) / "float.onnx", path, calibration)


def calibration_faces(data: str | os.PathLike, count: int = 1024, seed: int = 0) -> np.ndarray:
    """A seeded sample of training faces for int8 calibration (never test faces)."""
    from .data.fer2013 import load_train_test

    train = load_train_test(data)["train"].images
    return train[np.random.default_rng(seed).choice(len(train), min(count, len(train)), replace=False)]
