"""OpenCV's ResNet-10 SSD face detector (res10_300x300, Caffe), run by cv2.dnn from weights packaged with ferx."""
from __future__ import annotations

import re
import threading
from importlib import resources

import cv2
import numpy as np

from .crop import Box, clip_box, iou, not_nested, search_or_border

MEAN_BGR = (104.0, 177.0, 123.0)  # the training mean of the Caffe model


def _load_net() -> cv2.dnn.Net:
    """The packaged network, with the prior steps of its two coarsest layers left for OpenCV to derive."""
    root = resources.files("ferx.inference.faces") / "models"
    proto = (root / "res10_ssd_deploy.prototxt").read_text()
    # Those steps (100, 300 px) are fixed for a 300x300 input; without them OpenCV computes them from the input
    # and layer sizes, so a single pass at any size and aspect ratio places its large boxes right.
    proto = re.sub(r"\n\s*step: (100|300)\n", "\n", proto)
    weights = (root / "res10_300x300_ssd_iter_140000_fp16.caffemodel").read_bytes()
    return cv2.dnn.readNetFromCaffe(np.frombuffer(proto.encode(), np.uint8), np.frombuffer(weights, np.uint8))


class SSDDetector:
    """ResNet-10 SSD: one pass for candidates, one batched pass to re-check them; boxes in original pixels.

    The first pass runs on a copy whose long side is at most `input_side` (aspect ratio kept; a large photo is
    searched downscaled and cropped from the original) and keeps boxes scored >= `threshold`. Each is checked
    again on a `verify_side`-px copy of its surroundings (twice the box: the face at the size the network knows
    best), all in one batch, and kept when found there with `verify_threshold` or when the first pass scored it
    >= `trust`. A face that fills the frame is looked for again with a border of `pad` times the long side.
    Values chosen on benchmarks/detectors.py's 40 scenes and 40 face-free pictures: trust 0.9, re-check 0.5 and
    first pass 0.2 found 0.936 of the faces (re-check 0.6, nothing trusted, first pass 0.3: 0.904), 1 face-free
    detection either way (re-check 0.4: 4; trusting boxes >= 0.8, earlier thresholds: 4); on 60 other scenes
    (--seed 11) 0.948 against 0.930. A 128-px re-check: 17% less time per scene, 3 faces fewer on each of the
    two scene sets.
    """

    name = "ssd"

    def __init__(self, input_side: int = 512, threshold: float = 0.2, verify_side: int = 160,
                 verify_threshold: float = 0.5, trust: float = 0.9, pad: float = 0.25):
        self.net = _load_net()
        self.input_side, self.threshold = input_side, threshold
        self.verify_side, self.verify_threshold, self.trust, self.pad = verify_side, verify_threshold, trust, pad
        self.lock = threading.Lock()  # one cv2.dnn.Net must not run in two threads at once (HTTP service)

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        """Detection rows (image, class, score, x0, y0, x1, y1), coordinates relative to each input."""
        with self.lock:
            self.net.setInput(blob)
            return self.net.forward()[0, 0]

    def candidates(self, bgr: np.ndarray) -> tuple[list[Box], np.ndarray]:
        """Boxes scored >= threshold by one pass, at most one per face (the best-scored of overlapping boxes)."""
        h, w = bgr.shape[:2]
        scale = min(1.0, self.input_side / max(h, w))
        size = (max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32))
        out = self._forward(cv2.dnn.blobFromImage(bgr, 1.0, size, MEAN_BGR))
        boxes, scores = [], []
        for _, _, score, x0, y0, x1, y1 in out[out[:, 2] >= self.threshold]:
            area = (x1 - x0) * (y1 - y0)
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)
            # the network also gives confident boxes that lie mostly outside the image: not faces in it
            if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < 0.6 * area:
                continue
            x0, y0, x1, y1 = x0 * w, y0 * h, x1 * w, y1 * h
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                boxes.append((int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))))
                scores.append(float(score))
        scores_arr, kept = np.array(scores, np.float32), []
        for i in np.argsort(-scores_arr):
            if all(iou(boxes[i], boxes[j]) < 0.3 for j in kept):
                kept.append(i)
        return [boxes[i] for i in kept], scores_arr[kept]

    def verify(self, bgr: np.ndarray, boxes: list[Box]) -> tuple[list[Box], np.ndarray]:
        """Each box averaged with the box a second pass finds on a crop of twice its size around it, and that pass's
        score (0: not found again, the box kept as it was). The crop shows every face at about 80 px, which steadies
        the box's scale (the first pass's boxes alone grew to 1.08x a 220-px face in a 640x480 photo)."""
        if not boxes:
            return [], np.zeros(0, np.float32)
        crops, rels, origins = [], [], []
        h, w = bgr.shape[:2]
        for box in boxes:
            side = int(round(2 * max(box[2], box[3])))
            x0, y0 = int(round(box[0] + box[2] / 2 - side / 2)), int(round(box[1] + box[3] / 2 - side / 2))
            pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
            src = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else bgr
            crops.append(src[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side])
            rels.append(((box[0] - x0) / side, (box[1] - y0) / side, box[2] / side, box[3] / side))
            origins.append((x0, y0, side))
        v = self.verify_side
        out = self._forward(cv2.dnn.blobFromImages(crops, 1.0, (v, v), MEAN_BGR))
        found, refined = np.zeros(len(boxes), np.float32), list(boxes)
        for i, _, score, x0, y0, x1, y1 in out[out[:, 2] >= self.verify_threshold]:
            i = int(i)
            if score > found[i] and iou((x0, y0, x1 - x0, y1 - y0), rels[i]) >= 0.4:
                ox, oy, side = origins[i]
                found[i] = score
                # the mean of the two passes' boxes: each alone strays (the first pass grows with the face's size)
                b, again = boxes[i], (ox + x0 * side, oy + y0 * side, (x1 - x0) * side, (y1 - y0) * side)
                refined[i] = clip_box(tuple(int(round((p + q) / 2)) for p, q in zip(b, again)), w, h)
        return refined, found

    def detect(self, image: np.ndarray) -> tuple[list[Box], np.ndarray]:
        """Boxes (x, y, w, h) and their confidences for a gray (H, W) or RGB (H, W, 3) uint8 image."""
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else np.ascontiguousarray(image[..., 2::-1])
        (boxes, scores), p = search_or_border(self._detect, bgr, self.pad)
        if p:
            h, w = bgr.shape[:2]
            boxes = [clip_box((x - p, y - p, bw, bh), w, h) for x, y, bw, bh in boxes]
        return boxes, scores

    def _detect(self, bgr: np.ndarray) -> tuple[list[Box], np.ndarray]:
        boxes, scores = self.candidates(bgr)
        if self.verify_side:
            # a box the first pass is sure of stays when the re-check misses it: a pasted or cut-off face often
            # loses its score in the re-check's wider crop (7 of the 18 faces missed on 40 scenes had such a box)
            refined, again = self.verify(bgr, boxes)
            keep = [i for i, (first, second) in enumerate(zip(scores, again)) if second > 0 or first >= self.trust]
            boxes, scores = [refined[i] for i in keep], np.maximum(scores, again)[keep]
        keep = not_nested(boxes)
        return [boxes[i] for i in keep], scores[keep]

    def __call__(self, image: np.ndarray) -> list[Box]:
        boxes, _ = self.detect(image)
        return sorted(boxes, key=lambda b: (b[0], b[1]))

