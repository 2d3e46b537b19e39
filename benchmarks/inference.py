"""Inference speed: face crops per second in batches, and one photo end to end (decode, detect, classify) at
640x480 and 1632x1224 (2 megapixels), each with one real face (benchmarks/photo_scenes.py).

Usage: python benchmarks/inference.py [--data ../shared/fer2013] [--crossdata ../shared/crossdata] [--repeats 50]
       [--photos-only | --evaluate-only] [--detector SPEC]
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
from ferx.inference.faces import DEFAULT_DETECTOR
from ferx.inference.images import load_rgb, to_gray
from ferx.inference.recognizer import EmotionRecognizer
from ferx.inference.views import MODES, predict_views
from ferx.weights import load_weights, pretrained_path

from detectors import build  # benchmarks/detectors.py: a detector from a name or name:key=value


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
    p.add_argument("--crossdata", default="../shared/crossdata", help="real photos' faces for the photo timings")
    p.add_argument("--photos-only", action="store_true", help="only the photo timings (skips the batched crops)")
    p.add_argument("--backend", default="onnx", help="backend for the end-to-end photo timing (onnx is the default path)")
    p.add_argument("--evaluate-only", action="store_true", help="only the rate of ferx evaluate's path")
    p.add_argument("--detector", default=DEFAULT_DETECTOR,
                   help="detector for the photo timings: a name or name:key=value:... (as benchmarks/detectors.py "
                        "takes it; default: the product's)")
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    test = load_train_test(args.data)["test"]
    crops = test.images
    if not args.photos_only:
        # `ferx evaluate` and a training run's test evaluation: every view of every face, from the torch model (which
        # predict_views hands to an onnxruntime copy on a CPU)
        net, faces = load_weights(pretrained_path()), crops[:1024]
        rate = len(faces) / (median_ms(lambda: predict_views(net, faces, "views"), args.passes) / 1000)
        print(f"evaluate's path (predict_views), {len(faces)} crops, six views: {rate:.0f} faces/s "
              f"(median of {args.passes} passes)", flush=True)
    if args.evaluate_only:
        return
    for backend in () if args.photos_only else ("torch", "onnx", "int8"):
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

    # One real face (a crossdata photo's face with its hair and background, benchmarks/photo_scenes.py) in a
    # 640x480 and a 1632x1224 JPEG; without crossdata, a FER-2013 test face pasted into a plain 640x480 scene.
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    for name, scene in photos(Path(args.crossdata), crops[0]):
        photo = work / f"one_face_{name}.jpg"
        cv2.imwrite(str(photo), scene[..., ::-1])
        rec = EmotionRecognizer(backend=args.backend, detector=build(args.detector))
        gray = cv2.cvtColor(load_rgb(photo), cv2.COLOR_RGB2GRAY)
        boxes = rec.detector(gray)
        assert len(boxes) == 1, f"expected one face, found {len(boxes)}"
        # as `ferx predict photo.jpg` runs it: the file decoded straight to gray, detection, crops, classification
        decode = median_ms(lambda: to_gray(photo), args.repeats)
        detect = median_ms(lambda: rec.detector(gray), args.repeats)
        classify = median_ms(lambda: rec.predict(gray, boxes=boxes), args.repeats)
        total = median_ms(lambda: rec.predict(photo), args.repeats)
        print(f"{name} photo, one face, {args.backend} backend, {args.detector} detector, tta {rec.tta}, median of "
              f"{args.repeats}: end to end {total:.1f} ms (decode {decode:.1f} ms, detect {detect:.1f} ms, crop+classify "
              f"{classify:.1f} ms)", flush=True)


def photos(crossdata: Path, fer_face: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(size, RGB scene) with one face each: a real photo's face at 640x480 and 1632x1224, else a pasted FER face."""
    if not crossdata.is_dir():
        scene = np.full((480, 640, 3), 110, np.uint8)
        scene[100:260, 240:400] = cv2.resize(fer_face, (160, 160), interpolation=cv2.INTER_CUBIC)[..., None]
        return [("640x480 (FER-2013 face on grey)", scene)]
    from detectors import face_free_images
    from photo_scenes import agreed_faces, make_photo_scenes

    faces, free = agreed_faces(crossdata, per_set=5), face_free_images()
    return [(f"{w}x{h}", make_photo_scenes(faces, free, 1, (w, h), seed=3, faces=(1, 1), face_px=(px, px))[0][0])
            for w, h, px in ((640, 480, 160), (1632, 1224, 400))]

if __name__ == "__main__":
    main()
