"""Inference speed: face crops per second in batches, and one 640x480 photo end to end (decode, detect, classify).

Usage: python benchmarks/inference.py [--data ../shared/fer2013] [--repeats 50] [--passes 3]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ferx.data.fer2013 import load_train_test
from ferx.inference.images import load_rgb
from ferx.inference.recognizer import EmotionRecognizer
from ferx.inference.views import MODES


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: thread pools, allocator, CPU clocks
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--repeats", type=int, default=50, help="timings of the photo pipeline")
    p.add_argument("--passes", type=int, default=3, help="timed passes over the crops per configuration")
    p.add_argument("--workdir", default="/tmp/ferx-bench")
    p.add_argument("--backend", default="onnx", help="backend for the end-to-end photo timing (onnx is the default path)")
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    test = load_train_test(args.data)["test"]
    crops = test.images
    for backend in ("torch", "onnx", "int8"):
        # Rates settle within these counts; PyTorch eager is 4-8x slower, so it gets fewer faces and one batch size.
        faces, batch_sizes = (crops[:1024], (64,)) if backend == "torch" else (crops[:2048], (64, 256, 1024))
        for tta in MODES:
            rec = EmotionRecognizer(tta=tta, backend=backend)
            if backend != "torch":
                acc = (rec.classify(crops).argmax(1) == test.labels).mean()
                print(f"test accuracy, {backend:5s}, tta={tta:5s}: {acc:.4f} on all {len(crops)} faces")
            for bs in batch_sizes:
                rec.batch_size = bs
                rate = len(faces) / (median_ms(lambda: rec.classify(faces), args.passes) / 1000)
                print(f"classify {len(faces)} crops, {backend:5s}, batch {bs:4d}, tta={tta:5s}: {rate:7.0f} faces/s "
                      f"(median of {args.passes} passes)", flush=True)

    # One 640x480 JPEG with one face: a FER-2013 test face pasted at 160 px into a plain scene.
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    scene = np.full((480, 640, 3), 110, np.uint8)
    scene[100:260, 240:400] = cv2.resize(crops[0], (160, 160), interpolation=cv2.INTER_CUBIC)[..., None]
    photo = work / "one_face.jpg"
    cv2.imwrite(str(photo), scene)
    rec = EmotionRecognizer(backend=args.backend)
    rgb = load_rgb(photo)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    boxes = rec.detector(gray)
    assert len(boxes) == 1, f"expected one face, found {len(boxes)}"
    decode = median_ms(lambda: load_rgb(photo), args.repeats)
    detect = median_ms(lambda: rec.detector(gray), args.repeats)
    classify = median_ms(lambda: rec.predict(gray, boxes=boxes), args.repeats)
    total = median_ms(lambda: rec.predict_many([load_rgb(photo)]), args.repeats)
    print(f"640x480 photo, one face, {args.backend} backend, median of {args.repeats}: end to end {total:.1f} ms "
          f"(decode {decode:.1f} ms, detect {detect:.1f} ms, crop+classify {classify:.1f} ms)")


if __name__ == "__main__":
    main()
