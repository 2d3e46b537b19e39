"""int8 models on CPUs without VNNI: test accuracy and CenterFace boxes, in the arithmetic of this CPU and exact.

onnxruntime's int8 convolutions on x86 CPUs without VNNI (AVX2 but no VNNI in `lscpu`)
add pairs of uint8 x int8 products in int16, which saturate when weights use all 8 bits. The session option
`session.x64quantprecision` widens them to int16 first: exact, what a VNNI CPU computes, and slower. Each int8 file
is read both ways, so one run on an AVX2 machine shows what users of either kind of CPU get from it.

Usage: python benchmarks/int8_overflow.py [--data ../shared/fer2013] [--crossdata ../shared/crossdata]
       [--classifier A.int8.onnx ...] [--detector B.int8.onnx ...]
(default: the packaged int8 files; give older ones, e.g. `git show REV:PATH > FILE`, to compare; an empty
--classifier or --detector skips that part)
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ferx.data.fer2013 import load_train_test
from ferx.inference.faces.centerface import CenterFaceDetector
from ferx.inference.faces.crop import iou
from ferx.inference.recognizer import EmotionRecognizer
from ferx.inference.views import MODES
from ferx.weights import pretrained_path

MODELS = Path(__file__).resolve().parents[1] / "src" / "ferx" / "inference" / "faces" / "models"
DETECTION_SETS = ("jaffe", "taiwan_dev", "wild_dev")  # ckplus48 is read as whole 48x48 crops, never detected


def cpu_flags() -> str:
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags) or "unknown"


def session(path: Path, exact: bool) -> ort.InferenceSession:
    """A session in this CPU's default int8 arithmetic or the exact one (ferx's own sessions pick by CPU)."""
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.x64quantprecision", "1" if exact else "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def network_ms(sess: ort.InferenceSession, repeats: int = 30) -> float:
    """Median milliseconds of one CenterFace run on a 640x480 photo (its full size, as centerface-checked searches it)."""
    pixels = np.random.default_rng(0).integers(0, 256, (1, 3, 480, 640), np.uint8)
    feed = {"input.1": pixels if sess.get_inputs()[0].type == "tensor(uint8)" else pixels.astype(np.float32)}
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times[1:]))


def accuracy_and_rate(rec: EmotionRecognizer, test) -> tuple[float, float]:
    """Test accuracy and faces/s of one timed pass over every test face."""
    t0 = time.perf_counter()
    acc = (rec.classify(test.images).argmax(1) == test.labels).mean()
    return acc, len(test.images) / (time.perf_counter() - t0)


def classifier_rows(paths: list[Path], data: str) -> None:
    if not paths:
        return
    test = load_train_test(data)["test"]
    for tta in MODES:
        float_path = pretrained_path().with_suffix(".onnx")
        acc, rate = accuracy_and_rate(EmotionRecognizer(weights=float_path, backend="onnx", tta=tta), test)
        print(f"classifier float {float_path.name}, tta {tta}: accuracy {acc:.4f} ({rate:.0f} faces/s)", flush=True)
        for path in paths:
            for exact in (False, True):
                rec = EmotionRecognizer(weights=path, backend="int8", tta=tta)
                rec.model.session = session(path, exact)
                acc, rate = accuracy_and_rate(rec, test)
                print(f"classifier int8 {path}, {'exact' if exact else 'this CPU'}, tta {tta}: accuracy {acc:.4f} "
                      f"on {len(test.images)} test faces ({rate:.0f} faces/s)", flush=True)


def detector_rows(paths: list[Path], crossdata: Path) -> None:
    if not paths:
        return
    rows = [r for r in csv.DictReader(open(crossdata / "index.csv")) if r["dataset"] in DETECTION_SETS]
    images = [cv2.imread(str(crossdata / r["path"]), cv2.IMREAD_GRAYSCALE) for r in rows]
    reference = CenterFaceDetector()  # the float network
    top = [max(zip(*reference.detect(im)[:2]), key=lambda bs: bs[1], default=(None, 0))[0] for im in images]
    print(f"detector float centerface.onnx: a face in {sum(t is not None for t in top)} of {len(images)} photos "
          f"({', '.join(DETECTION_SETS)}), {network_ms(reference.session):.1f} ms a 640x480 photo")
    for path in paths:
        for exact in (False, True):
            det = CenterFaceDetector()
            det.session = session(path, exact)
            same = found = 0
            ious = []
            for im, ref in zip(images, top):
                boxes, scores, _ = det.detect(im)
                if len(boxes):
                    found += 1
                    best = boxes[int(np.argmax(scores))]
                    if ref is not None:
                        ious.append(iou(best, ref))
                        same += ious[-1] >= 0.5
            print(f"detector int8 {path}, {'exact' if exact else 'this CPU'}: a face in {found} of {len(images)}, "
                  f"top box on the float network's (IoU >= 0.5) in {same}, median IoU {np.median(ious):.3f}, "
                  f"{network_ms(det.session):.1f} ms a 640x480 photo",
                  flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--crossdata", default="../shared/crossdata")
    p.add_argument("--classifier", nargs="*", type=Path, default=[pretrained_path().with_suffix(".int8.onnx")])
    p.add_argument("--detector", nargs="*", type=Path, default=[MODELS / "centerface.int8.onnx"])
    args = p.parse_args()
    print(f"onnxruntime {ort.__version__}; CPU flags: {cpu_flags()}")
    classifier_rows(args.classifier, args.data)
    detector_rows(args.detector, Path(args.crossdata))


if __name__ == "__main__":
    main()
