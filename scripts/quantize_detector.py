"""Write the int8 copy of the packaged CenterFace detector (models/centerface.int8.onnx) from the float one.

Static QDQ quantisation in onnxruntime (per-channel int8 weights, uint8 activations), the model first raised from
opset 9 to 13 (per-channel scales need it). Activation ranges are calibrated on 48 generated scenes: FER-2013
training faces pasted into scikit-image's face-free pictures (benchmarks/detectors.py), in colour and gray, at the
two input sizes the detector uses most (320x256 and 640x480). Deterministic for the same data. The network then takes
the uint8 pixels themselves: the calibrated input scale is 1 with zero point 0, so its first QuantizeLinear is an
identity on 0-255 pixels and is dropped (the same outputs, 0.2-0.5 ms less at 640x480; checked-rule.txt revision 11).

Usage: python scripts/quantize_detector.py [--data ../shared/fer2013] [--keep-float stem|heads|decoder --out PATH]

--keep-float leaves part of the network in float and writes to --out, a probe of
docs/experiments/detectors/checked-rule.txt: the stem (the first two convolutions, slower in int8 here; revision 9),
the four output convolutions or everything from the decoder's first addition on (revision 3). A probe is read with
benchmarks/compare_fer.py after copying --out over models/centerface.int8.onnx.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper, version_converter
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from detectors import face_free_images, make_scenes  # noqa: E402

from ferx.data.fer2013 import load_train_test  # noqa: E402
from ferx.files import atomic_path  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "src" / "ferx" / "inference" / "faces" / "models"


class Scenes(CalibrationDataReader):
    """One input blob per scene, as CenterFaceDetector builds it (RGB 0-255, NCHW float32)."""

    def __init__(self, scenes: list[np.ndarray]) -> None:
        blobs = []
        for i, scene in enumerate(scenes):
            image = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY) if i % 2 else scene
            small = cv2.resize(image, (320, 256) if i % 3 else (640, 480)).astype(np.float32)
            blobs.append(np.repeat(small[None, None], 3, 1) if small.ndim == 2 else small.transpose(2, 0, 1)[None].copy())
        self.blobs = iter(blobs)

    def get_next(self) -> dict | None:
        blob = next(self.blobs, None)
        return None if blob is None else {"input.1": blob}


def float_nodes(model: onnx.ModelProto, part: str | None) -> list[str]:
    """Names of the nodes to leave in float: none, the stem (the first two convolutions, slower in int8 here), the
    output convolutions, or the decoder (from the upsampling on)."""
    nodes = list(model.graph.node)
    if part == "stem":
        return [n.name for n in nodes[:4]]  # convolution, ReLU, depthwise convolution, ReLU
    if part == "heads":
        return [n.name for n in nodes if any(w.startswith("head.") for w in n.input)]
    if part == "decoder":
        first = next(i for i, n in enumerate(nodes) if n.op_type == "ConvTranspose")
        return [n.name for n in nodes[first - 8 :]]  # the lateral convolution and addition that feed it, and on
    return []


def uint8_input(model: onnx.ModelProto) -> bool:
    """Drop the input's QuantizeLinear when it is an identity on 0-255 pixels (scale 1, zero point 0, uint8), so the
    network takes uint8 pixels; False, and the model unchanged, when it is not."""
    graph, name = model.graph, model.graph.input[0].name
    quant = next((n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == name), None)
    if quant is None or len(quant.input) < 3:
        return False
    params = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    scale, zero = params.get(quant.input[1]), params.get(quant.input[2])
    if scale is None or zero is None or scale.size != 1 or zero.dtype != np.uint8:
        return False
    if float(scale) != 1.0 or int(zero) != 0:
        return False
    for node in graph.node:
        node.input[:] = [name if x == quant.output[0] else x for x in node.input]
    graph.node.remove(quant)
    graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.UINT8
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/fer2013")
    ap.add_argument("--keep-float", choices=["stem", "heads", "decoder"], help="leave these nodes in float (a probe)")
    ap.add_argument("--out", type=Path, default=MODELS / "centerface.int8.onnx")
    args = ap.parse_args()
    train = load_train_test(args.data)["train"]
    faces = train.images[np.random.default_rng(5).permutation(len(train))[:300]]
    scenes = [s for s, _ in make_scenes(faces, face_free_images(), 48, seed=21)]
    dst = args.out
    with tempfile.TemporaryDirectory() as tmp, atomic_path(dst) as out:
        raised, prepared = Path(tmp) / "opset13.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(version_converter.convert_version(onnx.load(MODELS / "centerface.onnx"), 13), raised)
        quant_pre_process(str(raised), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(prepared)
        if args.keep_float:  # the original's nodes are unnamed, and exclusion goes by name
            for i, node in enumerate(model.graph.node):
                node.name = node.name or f"{node.op_type}_{i}"
            onnx.save(model, prepared)
        quantize_static(str(prepared), str(out), Scenes(scenes), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_nodes(model, args.keep_float))
        quantized = onnx.load(out)
        if uint8_input(quantized):
            onnx.save(quantized, out)
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
