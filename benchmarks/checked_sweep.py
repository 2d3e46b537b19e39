"""Which CenterFace candidates should MTCNN's O-Net confirm? FER-2013 scene recall and false detections for the rules
"kept when CenterFace scores it >= a, or >= b with O-Net >= c" (the settings of `centerface-checked`).

    python benchmarks/checked_sweep.py [--proposers centerface,centerface-int8:min_side=640:max_side=640] [--seed 0]

Each proposer runs once per picture at threshold 0.05; O-Net scores every candidate once; each rule then keeps a
subset, cleans it up (nested boxes dropped) and is matched as benchmarks/detectors.py matches. The detector's later
rule (an unsure box a quarter on a kept face is dropped) is not applied: this is the sweep its settings were chosen
by.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detectors import ROOT, build, face_free_images, found_faces, iou, make_scenes, scene_faces  # noqa: E402

from ferx.inference.faces.crop import face_boxes  # noqa: E402
from ferx.inference.faces.mtcnn import MTCNNDetector  # noqa: E402

RULES = [(a, b, c) for a in (0.3, 1.0) for b in (0.05, 0.1, 0.15, 0.2) for c in (0.0, 0.1, 0.2, 0.3, 0.5)]


def candidates(proposer, checker, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes, scores, _ = proposer._search(gray)
    return boxes, scores, checker.face_scores(gray, boxes)


def kept(cands, rule, shape) -> list:
    (boxes, cf, onet), (a, b, c) = cands, rule
    sel = (cf >= a) | ((cf >= b) & (onet >= c))
    return face_boxes(boxes[sel], shape[1], shape[0])[0] if sel.any() else []


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proposers", default="centerface,centerface-int8:min_side=640:max_side=640")
    ap.add_argument("--fer", type=Path, default=ROOT / "fer2013")
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    free = face_free_images()
    scenes = make_scenes(scene_faces(args.fer, args.seed), free, args.scenes, seed=args.seed)
    gray = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)  # noqa: E731
    checker = MTCNNDetector()
    for spec in args.proposers.split(","):
        proposer = build(spec + ":threshold=0.05")
        seen = [(candidates(proposer, checker, gray(s)), truth, s.shape) for s, truth in scenes]
        empty = [(candidates(proposer, checker, gray(im)), im.shape) for im in free]
        print(f"## proposer {spec}; {len(scenes)} scenes (seed {args.seed}), {len(free)} face-free pictures, gray")
        for rule in RULES:
            found = total = false = 0
            for cands, truth, shape in seen:
                dets = kept(cands, rule, shape)
                found, total = found + sum(found_faces(dets, truth)), total + len(truth)
                false += sum(not any(iou(d, t) >= 0.3 for t in truth) for d in dets)
            free_dets = sum(len(kept(c, rule, shape)) for c, shape in empty)
            name = "cf>={} | (cf>={} & onet>={})".format(*rule) if rule[0] < 1 else "cf>={1} & onet>={2}".format(*rule)
            print(f"{name:32s} {found}/{total} ({found / total:.3f})  false {false}  face-free detections {free_dets}")


if __name__ == "__main__":
    main()
