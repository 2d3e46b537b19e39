"""Multi-face scenes built from real photos: crossdata faces with their hair, neck and background, not FER-2013 crops.

Each face is cut from its photo with context (a square 1.8x the face), scaled so the face is 40-200 px and pasted
into a crop of a face-free natural picture, 3-6 per 640x480 scene. The face's box in its own photo is where the
`ssd` and `centerface` detectors agree at full size (IoU >= 0.5; the mean of their boxes): photos where they do not,
or where either finds more than one face, are left out. Used by benchmarks/detectors.py; nothing is written to disk.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ferx.data.folders import scan_labelled_folder
from ferx.inference.faces import get_detector
from ferx.inference.faces.crop import iou
from ferx.inference.images import load_rgb

SETS = ("jaffe", "taiwan_dev", "wild_dev")  # photos with context; ckplus48 is tight 48x48 crops


def agreed_faces(root: Path, per_set: int = 100, seed: int = 0) -> list[tuple[np.ndarray, tuple]]:
    """(RGB photo, face box) for up to `per_set` photos of each set where both detectors agree on one face."""
    ssd, centerface = get_detector("ssd"), get_detector("centerface")
    rng, out = np.random.default_rng(seed), []
    for name in SETS:
        files = scan_labelled_folder(root / name)
        for i in rng.permutation(len(files))[:per_set]:
            rgb = load_rgb(files[i][0])
            a, b = ssd(rgb), centerface(rgb)
            if len(a) == 1 and len(b) == 1 and iou(a[0], b[0]) >= 0.5:
                out.append((rgb, tuple((p + q) / 2 for p, q in zip(a[0], b[0]))))
    return out


def background_crop(backgrounds: list[np.ndarray], size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random w x h crop of one of `backgrounds` (upscaled first where it is smaller)."""
    w, h = size
    bg = backgrounds[rng.integers(len(backgrounds))]
    bg = cv2.resize(bg, (max(w, bg.shape[1]), max(h, bg.shape[0])))
    y0, x0 = rng.integers(bg.shape[0] - h + 1), rng.integers(bg.shape[1] - w + 1)
    return bg[y0 : y0 + h, x0 : x0 + w].copy()


def make_photo_scenes(photos, backgrounds: list[np.ndarray], count: int, size=(640, 480), seed: int = 0,
                      faces: tuple[int, int] = (3, 6), face_px: tuple[int, int] = (40, 200)):
    """`count` scenes of `faces` (least, most) faces cut from `photos` with context, `face_px` wide; (image, boxes)."""
    rng = np.random.default_rng(seed)
    w, h = size
    scenes, k = [], 0
    for _ in range(count):
        scene, tiles, boxes = background_crop(backgrounds, size, rng), [], []
        for _ in range(rng.integers(faces[0], faces[1] + 1)):
            photo, (fx, fy, fw, fh) = photos[k % len(photos)]
            k += 1
            half = 0.9 * max(fw, fh)
            ph, pw = photo.shape[:2]
            tx0, ty0 = int(max(0, fx + fw / 2 - half)), int(max(0, fy + fh / 2 - half))
            tx1, ty1 = int(min(pw, fx + fw / 2 + half)), int(min(ph, fy + fh / 2 + half))
            f = int(rng.integers(face_px[0], face_px[1] + 1)) / fw
            tile = cv2.resize(photo[ty0:ty1, tx0:tx1], (max(1, round((tx1 - tx0) * f)), max(1, round((ty1 - ty0) * f))),
                              interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
            th, tw = tile.shape[:2]
            if tw >= w or th >= h:
                continue
            for _ in range(50):  # a place that overlaps no other tile
                place = (int(rng.integers(0, w - tw)), int(rng.integers(0, h - th)), tw, th)
                if all(iou(place, t) == 0 for t in tiles):
                    break
            else:
                continue
            scene[place[1] : place[1] + th, place[0] : place[0] + tw] = tile
            tiles.append(place)
            boxes.append((round(place[0] + (fx - tx0) * f), round(place[1] + (fy - ty0) * f), round(fw * f), round(fh * f)))
        scenes.append((scene, boxes))
    return scenes
