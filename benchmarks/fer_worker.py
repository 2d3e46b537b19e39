"""Run inside the `fer` package's own venv (see compare_fer.py): one JSON line per image on stdout.

    /work/fer-venv/bin/python benchmarks/fer_worker.py < paths.txt

Each line: path, boxes found by fer's own detector with its emotions, the emotion of the whole image as the face,
and the milliseconds of detect_emotions (decode excluded, as for ferx).
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
from fer.fer import FER  # noqa: E402


def top(faces):
    return [{"box": [int(v) for v in f["box"]], "emotion": max(f["emotions"], key=f["emotions"].get)} for f in faces]


def main() -> None:
    detector = FER()
    for line in sys.stdin:
        path = line.strip()
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:  # e.g. palette TIFFs OpenCV cannot read
            from PIL import Image
            import numpy as np

            img = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"))[..., ::-1])
        t = time.perf_counter()
        faces = detector.detect_emotions(img)
        ms = 1000 * (time.perf_counter() - t)
        whole = detector.detect_emotions(img, face_rectangles=[(0, 0, img.shape[1], img.shape[0])])
        print(json.dumps({"path": path, "faces": top(faces), "whole": top(whole), "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
