"""Measure how a detector's box relates to the FER-2013 frame: paste test faces into scenes, detect, compare.

Usage: python benchmarks/crop_margin.py [--data ../shared/fer2013] [--n 300] [--size 144] [--detector haar]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from ferx.data.fer2013 import load_train_test
from ferx.inference.faces import get_detector


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--size", type=int, default=144, help="pasted face size in pixels")
    p.add_argument("--detector", default="haar", help="a detector name (ferx.inference.faces.DETECTORS)")
    args = p.parse_args()
    test = load_train_test(args.data)["test"]
    detect = get_detector(args.detector)
    rng = np.random.default_rng(0)
    rel = []
    for i in rng.choice(len(test), args.n, replace=False):
        scene = np.full((480, 640), 128, np.uint8)
        scene[100 : 100 + args.size, 200 : 200 + args.size] = cv2.resize(test.images[i], (args.size, args.size), interpolation=cv2.INTER_CUBIC)
        boxes = detect(scene)
        if len(boxes) == 1:
            x, y, w, h = boxes[0]
            side = max(w, h)  # crop_faces squares the box about its centre
            rel.append(((x + w / 2 - side / 2 - 200) / args.size, (y + h / 2 - side / 2 - 100) / args.size, side / args.size))
    rel = np.array(rel)
    x, y, w = np.median(rel, 0)
    print(f"detected exactly one face in {len(rel)} of {args.n} scenes")
    print(f"median {args.detector} box, squared, relative to the FER frame: x {x:+.3f}  y {y:+.3f}  side {w:.3f}")
    print(f"margin per side that restores the FER frame: {(1 / w - 1) / 2:.3f}")


if __name__ == "__main__":
    main()
