"""Face detectors side by side: misses per crossdata set, recall and false detections on generated scenes,
detections on face-free natural images, and milliseconds per photo at 640x480 and ~2 megapixels (detection
alone, and end to end through EmotionRecognizer.predict: detection, crops and the default six-view classification).

    nice -n 19 python benchmarks/detectors.py [--detectors haar,ssd,...] [--crossdata ../shared/crossdata]

A detector may carry settings of its class: `centerface:min_side=640:max_side=640:threshold=0.2`,
`mtcnn:thresholds=0.5/0.5/0.5` (a tuple).

Scenes: real FER-2013 test faces pasted at 40-200 px (3-6 per scene) into crops of scikit-image's natural images
(which ship in its wheel); a face counts as found when a detected box overlaps it with IoU >= 0.3. Photo scenes:
the same with crossdata faces cut from their photos with hair and background (benchmarks/photo_scenes.py). Face-free
images: the same scikit-image pictures that hold no face (and their mirror images). Times: the first photo scene at
640x480 and one at 1632x1224 (FER-2013 scenes with --no-crossdata), the median of repeated runs.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from ferx import EmotionRecognizer
from ferx.data.fer2013 import load_train_test
from ferx.data.folders import scan_labelled_folder
from ferx.inference.faces import DETECTORS, get_detector
from ferx.inference.faces.crop import iou
from ferx.inference.images import load_rgb
from photo_scenes import agreed_faces, background_crop, make_photo_scenes

ROOT = Path(__file__).resolve().parents[2] / "shared"
# scikit-image sample pictures with no face in them (astronaut, camera and others with people are left out)
FACE_FREE = (
    "brick", "cell", "chelsea", "clock_motion", "coffee", "coins", "color", "grass", "gravel", "horse",
    "hubble_deep_field", "ihc", "logo", "moon", "motorcycle_left", "page", "retina", "rocket", "text", "microaneurysms",
)


def face_free_images() -> list[np.ndarray]:
    """Face-free natural images shipped in scikit-image's wheel, as RGB, each also mirrored (40 images)."""
    from skimage import io
    from skimage.data import data_dir

    out = []
    for name in FACE_FREE:
        path = next(Path(data_dir).glob(f"{name}.*"))
        img = io.imread(path)
        img = np.dstack([img] * 3) if img.ndim == 2 else img[..., :3]
        if img.dtype != np.uint8:
            img = (img / img.max() * 255).astype(np.uint8)
        out += [np.ascontiguousarray(img), np.ascontiguousarray(img[:, ::-1])]
    return out


def make_scenes(faces: np.ndarray, backgrounds: list[np.ndarray], count: int, size=(640, 480), seed: int = 0):
    """`count` scenes: 3-6 faces of 40-200 px, not overlapping, on crops of natural backgrounds; (image, boxes)."""
    rng = np.random.default_rng(seed)
    w, h = size
    scenes, k = [], 0
    for _ in range(count):
        scene = background_crop(backgrounds, size, rng)
        boxes = []
        for _ in range(rng.integers(3, 7)):
            for _ in range(50):  # a place that overlaps no other face
                s = int(rng.integers(40, 201))
                box = (int(rng.integers(0, w - s)), int(rng.integers(0, h - s)), s, s)
                if all(iou(box, b) == 0 and not _near(box, b) for b in boxes):
                    break
            else:
                continue
            face = cv2.resize(faces[k % len(faces)], (s, s), interpolation=cv2.INTER_CUBIC if s > 48 else cv2.INTER_AREA)
            scene[box[1] : box[1] + s, box[0] : box[0] + s] = face[..., None]
            boxes.append(box)
            k += 1
        scenes.append((scene, boxes))
    return scenes


def _near(a, b, gap: int = 8) -> bool:
    return not (a[0] + a[2] + gap <= b[0] or b[0] + b[2] + gap <= a[0] or a[1] + a[3] + gap <= b[1] or b[1] + b[3] + gap <= a[1])


def scene_faces(fer: Path, seed: int) -> np.ndarray:
    """The 400 FER-2013 test faces that the scenes of `seed` paste, in order."""
    test = load_train_test(fer)["test"]
    return test.images[np.random.default_rng(1 + seed).permutation(len(test))[:400]]


def found_faces(dets, boxes) -> list[bool]:
    """For each true box, whether a detection overlaps it with IoU >= 0.3."""
    return [any(iou(d, b) >= 0.3 for d in dets) for b in boxes]


def scene_scores(detect, scenes, gray: bool) -> tuple[int, int, int, str]:
    """(faces found, faces in all, false detections, found/all per 40-px band of face size), IoU >= 0.3 matching."""
    found = total = false = 0
    bands = np.zeros((2, 4), int)
    for scene, boxes in scenes:
        dets = detect(cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY) if gray else scene)
        matched = found_faces(dets, boxes)
        found, total = found + sum(matched), total + len(boxes)
        false += sum(not any(iou(d, b) >= 0.3 for b in boxes) for d in dets)
        for b, m in zip(boxes, matched):
            bands[:, min(b[2] // 40 - 1, 3)] += (m, 1)
    return found, total, false, " ".join(f"{f}/{n}" for f, n in bands.T)


def _number(value: str):
    """'0.2' -> 0.2, '640' -> 640, '0.5/0.5/0.7' -> (0.5, 0.5, 0.7)."""
    if "/" in value:
        return tuple(_number(v) for v in value.split("/"))
    return float(value) if "." in value else int(value)


def build(spec: str):
    """A detector from `name` or `name:key=value:...` (settings of its class, numbers as numbers, a/b/c a tuple)."""
    name, *settings = spec.split(":")
    if name not in DETECTORS:
        get_detector(name)  # raises the product's one-line error for an unknown name
    module, cls = DETECTORS[name]
    kwargs = {k: _number(v) for k, v in (item.split("=", 1) for item in settings)}
    return getattr(importlib.import_module(f"ferx.inference.faces.{module}"), cls)(**kwargs)


def crossdata_misses(detect, root: Path, gray: bool) -> dict[str, str]:
    out = {}
    for name in ("ckplus48", "jaffe", "taiwan_dev", "wild_dev"):
        if not (root / name).is_dir():
            continue
        files = scan_labelled_folder(root / name)
        misses = 0
        for path, _ in files:
            rgb = load_rgb(path)
            misses += not detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if gray else rgb)
        out[name] = f"{misses}/{len(files)}"
    return out


def ms_per_photo(detect, image: np.ndarray, gray: bool, repeat: int = 15) -> float:
    img = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if gray else image
    detect(img)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        detect(img)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--crossdata", type=Path, default=ROOT / "crossdata")
    ap.add_argument("--fer", type=Path, default=ROOT / "fer2013")
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0, help="another seed: other faces and scenes (a held-out set)")
    ap.add_argument("--no-crossdata", action="store_true", help="skip the crossdata misses (the slow part)")
    ap.add_argument("--gray", action="store_true", help="give detectors the gray image (as ferx's photo path does)")
    args = ap.parse_args(argv)
    faces = scene_faces(args.fer, args.seed)
    free = face_free_images()
    scenes = make_scenes(faces, free, args.scenes, seed=args.seed)
    big = make_scenes(faces, free, 1, size=(1632, 1224), seed=5)[0][0]
    photo_scenes, photo_big = [], None
    if not args.no_crossdata:
        photos = agreed_faces(args.crossdata, seed=args.seed)
        photo_scenes = make_photo_scenes(photos, free, args.scenes, seed=args.seed)
        photo_big = make_photo_scenes(photos, free, 1, size=(1632, 1224), seed=5)[0][0]
    # timed on a scene of real photos' faces where there is one (FER-2013 crops on texture otherwise)
    timed_small, timed_big = (photo_scenes[0][0], photo_big) if photo_scenes else (scenes[0][0], big)
    print(f"{len(scenes)} scenes (seed {args.seed}) with {sum(len(b) for _, b in scenes)} faces; {len(free)} face-free "
          f"images; gray={args.gray}")
    print("| detector | " + " | ".join(("ckplus48", "jaffe", "taiwan_dev", "wild_dev")) + " misses | scene recall | scene false "
          "| scene recall by size 40-79 / 80-119 / 120-159 / 160-200 px | photo-scene recall | photo-scene false | face-free detections | ms 640x480 | ms 1632x1224 | ms end to end 640x480 | ms end to end 1632x1224 |")
    print("|---|" + "---:|" * 14)
    for name in args.detectors.split(","):
        detect = build(name)
        miss = {} if args.no_crossdata else crossdata_misses(detect, args.crossdata, args.gray)
        found, total, false, bands = scene_scores(detect, scenes, args.gray)
        pfound, ptotal, pfalse, _ = scene_scores(detect, photo_scenes, args.gray) if photo_scenes else (0, 0, 0, "")
        free_dets = sum(len(detect(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) if args.gray else im)) for im in free)
        small, large = ms_per_photo(detect, timed_small, args.gray), ms_per_photo(detect, timed_big, args.gray, 7)
        rec = EmotionRecognizer(detector=detect)  # decode excluded; detection, crops and the six-view classification
        e2e_small, e2e_large = ms_per_photo(rec.predict, timed_small, False), ms_per_photo(rec.predict, timed_big, False, 7)
        cells = [miss.get(s, "-") for s in ("ckplus48", "jaffe", "taiwan_dev", "wild_dev")]
        print(f"| {name} | " + " | ".join(cells) + f" | {found}/{total} ({found / total:.3f}) | {false} | {bands} | {pfound}/{ptotal} ({pfound / max(ptotal, 1):.3f}) | {pfalse} | {free_dets}/{len(free)} | {small:.1f} | {large:.1f} "
              f"| {e2e_small:.1f} | {e2e_large:.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
