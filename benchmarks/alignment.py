"""Does levelling the eyes before cropping pay? Photo-path accuracy on crossdata with and without it.

The default detector (CenterFace) gives five landmarks per face; aligned, the gray photo is rotated about the face's
centre so the eyes lie level, then the same box is cropped. The largest face per photo; a photo with none is wrong.

    python benchmarks/alignment.py [--crossdata ../shared/crossdata] [--sets jaffe,taiwan_dev,wild_dev]
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import f1_score

from ferx import EmotionRecognizer
from ferx.data.folders import scan_labelled_folder
from ferx.inference.faces.centerface import CenterFaceDetector
from ferx.inference.faces.crop import crop_faces
from ferx.inference.images import to_gray

ROOT = Path(__file__).resolve().parents[2] / "shared" / "crossdata"


def level(gray: np.ndarray, box, eyes: np.ndarray) -> np.ndarray:
    """The image rotated about the box's centre so that the line through the two eyes is horizontal."""
    (lx, ly), (rx, ry) = eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return cv2.warpAffine(gray, m, gray.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crossdata", type=Path, default=ROOT)
    ap.add_argument("--sets", default="jaffe,taiwan_dev,wild_dev")
    args = ap.parse_args()
    rec, detector = EmotionRecognizer(detector=None), CenterFaceDetector()
    print("| set | photos | faces found | median eye tilt, degrees | plain: accuracy / macro F1 | eyes levelled |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        files = scan_labelled_folder(args.crossdata / name)
        labels = [label for _, label in files]
        plain, aligned, tilts = [], [], []
        for path, _ in files:
            gray = to_gray(path)
            boxes, _, points = detector.detect(gray)
            if not boxes:
                plain.append("no face"), aligned.append("no face")
                continue
            i = max(range(len(boxes)), key=lambda k: boxes[k][2] * boxes[k][3])
            box, eyes = boxes[i], points[i][:2]
            tilts.append(abs(math.degrees(math.atan2(eyes[1][1] - eyes[0][1], eyes[1][0] - eyes[0][0]))))
            crops = np.concatenate([crop_faces(gray, [box]), crop_faces(level(gray, box, eyes), [box])])
            p = rec.classify(crops).argmax(1)
            plain.append(rec.classes[p[0]]), aligned.append(rec.classes[p[1]])
        present = sorted(set(labels))
        cells = [f"{np.mean([a == b for a, b in zip(pred, labels)]):.3f} / "
                 f"{f1_score(labels, pred, labels=present, average='macro', zero_division=0):.3f}" for pred in (plain, aligned)]
        print(f"| {name} | {len(files)} | {len(tilts)} | {np.median(tilts):.1f} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
