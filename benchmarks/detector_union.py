"""Which faces of the FER-2013 scenes does any detector find? Recall per detector, of pairs, and of all together.

    nice -n 19 python benchmarks/detector_union.py [--detectors centerface,ssd,...] [--dlib-hog] [--gray] [--flip]
    [--scenes 40] [--save-missed missed.png]

The scenes are benchmarks/detectors.py's (FER-2013 test faces pasted at 40-200 px, IoU >= 0.3 counts as found).
A face no detector finds bounds what switching or combining these detectors can reach. --dlib-hog adds dlib's HOG
frontal-face detector (upsampled once, for faces under 80 px), when the optional `dlib-bin` wheel is installed;
ferx does not depend on it. --gray adds each detector run on the scene made gray (the pasted FER-2013 faces are gray
in a colour scene), --flip each detector's boxes on the mirrored scene added to its own.
"""
from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from detectors import ROOT, build, face_free_images, found_faces, make_scenes, scene_faces


def dlib_hog():
    """dlib's HOG + linear SVM frontal-face detector, on the gray image upsampled once; boxes (x, y, w, h)."""
    import dlib

    detector = dlib.get_frontal_face_detector()

    def detect(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        return [(r.left(), r.top(), r.width(), r.height()) for r in detector(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 1)]
    return detect


def on_gray(detect):
    """`detect` on the image made gray (three equal channels)."""
    return lambda rgb: detect(cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB))


def with_mirror(detect):
    """`detect`'s boxes on the image and on its mirror image, mapped back."""
    def both(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        w = rgb.shape[1]
        mirrored = detect(np.ascontiguousarray(rgb[:, ::-1]))
        return list(detect(rgb)) + [(w - x - bw, y, bw, bh) for x, y, bw, bh in mirrored]
    return both


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", default="centerface,centerface:min_side=960:max_side=960,ssd")
    ap.add_argument("--dlib-hog", action="store_true")
    ap.add_argument("--gray", action="store_true", help="also each detector on the gray scene")
    ap.add_argument("--flip", action="store_true", help="also each detector with its mirror-image pass")
    ap.add_argument("--fer", type=Path, default=ROOT / "fer2013")
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-missed", type=Path, help="a strip of the faces no detector finds (96 px each)")
    args = ap.parse_args(argv)
    scenes = make_scenes(scene_faces(args.fer, args.seed), face_free_images(), args.scenes, seed=args.seed)
    detectors = {name: build(name) for name in args.detectors.split(",")}
    if args.dlib_hog:
        detectors["dlib-hog"] = dlib_hog()
    base = dict(detectors)
    if args.gray:
        detectors.update({f"{k}+gray": on_gray(d) for k, d in base.items()})
    if args.flip:
        detectors.update({f"{k}+flip": with_mirror(d) for k, d in base.items()})
    found = {name: [] for name in detectors}
    for scene, boxes in scenes:
        for name, detect in detectors.items():
            found[name] += found_faces(detect(scene), boxes)
    found = {k: np.array(v) for k, v in found.items()}
    total = len(next(iter(found.values())))
    print(f"{args.scenes} scenes (seed {args.seed}), {total} faces")
    for r in range(1, len(found) + 1):
        for combo in itertools.combinations(found, r):
            hits = np.logical_or.reduce([found[k] for k in combo]).sum()
            print(f"{' | '.join(combo):60s} {hits:4d}/{total} ({hits / total:.3f})")
    if args.save_missed:
        missed = ~np.logical_or.reduce(list(found.values()))
        crops = [cv2.resize(scene[y : y + h, x : x + w], (96, 96)) for scene, boxes in scenes for x, y, w, h in boxes]
        strip = [c for c, m in zip(crops, missed) if m]
        if strip:
            cv2.imwrite(str(args.save_missed), cv2.cvtColor(np.hstack(strip), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
