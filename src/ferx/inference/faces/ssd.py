"""OpenCV's ResNet-10 SSD face detector (res10_300x300, Caffe), run by cv2.dnn from weights packaged with ferx."""
from __future__ import annotations

import threading
from importlib import resources

import cv2
import numpy as np

from .crop import Box

MEAN_BGR = (104.0, 177.0, 123.0)  # the training mean of the Caffe model


def _model_files() -> tuple[str, str]:
    root = resources.files("ferx.inference.faces") / "models"
    return str(root / "res10_ssd_deploy.prototxt"), str(root / "res10_300x300_ssd_iter_140000_fp16.caffemodel")


class SSDDetector:
    """ResNet-10 SSD in two stages; boxes in original pixels.

    Candidates, at the low `threshold`, come from a pass at the network's own 300x300 and, on photos over
    450 px, a finer pass for small faces (long side at most `input_side`: a large photo is searched on a
    downscaled copy, and boxes stay in original pixels for cropping). Each candidate is then checked
    by a second pass on a `verify_side`-px copy of its surroundings (twice the box, the face at the
    size the network knows best) and kept when that pass finds it again with `verify_threshold`:
    on generated scenes it removed most false detections on text, coins and clocks while keeping small faces
    (benchmarks/detectors.py; a threshold of 0.6 at 160 px kept the most faces at <= 1 false detection per 20
    face-free pictures, 300 px found more faces and more false ones). `verify_side=0` keeps the single pass.
    A face that fills the frame is looked for again with a border of `pad` times the long side.
    """

    name = "ssd"

    def __init__(self, input_side: int = 640, threshold: float = 0.3, verify_side: int = 160,
                 verify_threshold: float = 0.6, pad: float = 0.25):
        proto, weights = _model_files()
        self.net = cv2.dnn.readNetFromCaffe(proto, weights)
        self.input_side, self.threshold = input_side, threshold
        self.verify_side, self.verify_threshold, self.pad = verify_side, verify_threshold, pad
        self.lock = threading.Lock()  # one cv2.dnn.Net must not run in two threads at once (HTTP service)

    def _pass(self, bgr: np.ndarray, size: tuple[int, int], threshold: float) -> tuple[list[Box], np.ndarray]:
        """One pass on a copy resized to `size` (w, h); boxes in `bgr`'s pixels."""
        h, w = bgr.shape[:2]
        blob = cv2.dnn.blobFromImage(bgr, 1.0, size, MEAN_BGR)
        with self.lock:
            self.net.setInput(blob)
            out = self.net.forward()[0, 0]
        out = out[out[:, 2] >= threshold]
        boxes, scores = [], []
        for _, _, score, x0, y0, x1, y1 in out:
            area = (x1 - x0) * (y1 - y0)
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)
            # the network also gives confident boxes that lie mostly outside the image: not faces in it
            if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < 0.6 * area:
                continue
            x0, y0, x1, y1 = x0 * w, y0 * h, x1 * w, y1 * h
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                boxes.append((int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))))
                scores.append(float(score))
        return boxes, np.array(scores, np.float32)

    def candidates(self, bgr: np.ndarray) -> tuple[list[Box], np.ndarray]:
        """Boxes of the 300x300 pass (the network's own size) and, on larger photos, small boxes of a finer pass."""
        boxes, scores = self._pass(bgr, (300, 300), self.threshold)
        h, w = bgr.shape[:2]
        if max(h, w) > 1.5 * 300 and self.input_side > 300:
            # the last prior layers have fixed steps for a 300-px input, so only small boxes are kept here
            scale = min(self.input_side, max(h, w)) / max(h, w)
            size = (max(64, int(round(w * scale / 64)) * 64), max(64, int(round(h * scale / 64)) * 64))
            fine, fine_scores = self._pass(bgr, size, self.threshold)
            limit = 100 * max(w / size[0], h / size[1])
            small = [i for i, b in enumerate(fine) if max(b[2], b[3]) <= limit]
            boxes, scores = boxes + [fine[i] for i in small], np.concatenate([scores, fine_scores[small]])
        order, kept = np.argsort(-scores), []
        for i in order:  # one candidate per face: the best-scored of overlapping boxes
            if all(_iou(boxes[i], boxes[j]) < 0.3 for j in kept):
                kept.append(i)
        return [boxes[i] for i in kept], scores[kept]

    def _verify(self, bgr: np.ndarray, box: Box) -> float:
        """The score a second pass gives the box on a crop of twice its size around it (0 if not found)."""
        side = int(round(2 * max(box[2], box[3])))
        x0, y0 = int(round(box[0] + box[2] / 2 - side / 2)), int(round(box[1] + box[3] / 2 - side / 2))
        h, w = bgr.shape[:2]
        pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
        src = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else bgr
        crop = src[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
        boxes, scores = self._pass(crop, (self.verify_side, self.verify_side), self.verify_threshold)
        rel = (box[0] - x0, box[1] - y0, box[2], box[3])
        return max((float(s) for b, s in zip(boxes, scores) if _iou(b, rel) >= 0.4), default=0.0)

    def detect(self, image: np.ndarray) -> tuple[list[Box], np.ndarray]:
        """Boxes (x, y, w, h) and their confidences for a gray (H, W) or RGB (H, W, 3) uint8 image."""
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else np.ascontiguousarray(image[..., 2::-1])
        boxes, scores = self._detect(bgr)
        if not boxes and self.pad:
            # a face that fills the frame (a tight crop) is found once the image has a border around it
            h, w = bgr.shape[:2]
            p = int(round(self.pad * max(h, w)))
            boxes, scores = self._detect(cv2.copyMakeBorder(bgr, p, p, p, p, cv2.BORDER_REPLICATE))
            boxes = [_clip((x - p, y - p, bw, bh), w, h) for x, y, bw, bh in boxes]
        return boxes, scores

    def _detect(self, bgr: np.ndarray) -> tuple[list[Box], np.ndarray]:
        boxes, scores = self.candidates(bgr)
        if self.verify_side:
            checked = [self._verify(bgr, b) for b in boxes]
            keep = [i for i, v in enumerate(checked) if v > 0]
            boxes, scores = [boxes[i] for i in keep], np.array([checked[i] for i in keep], np.float32)
        return boxes, scores

    def __call__(self, image: np.ndarray) -> list[Box]:
        boxes, _ = self.detect(image)
        return sorted(boxes, key=lambda b: (b[0], b[1]))


def _clip(box: Box, w: int, h: int) -> Box:
    x0, y0 = max(0, box[0]), max(0, box[1])
    return (x0, y0, min(w, box[0] + box[2]) - x0, min(h, box[1] + box[3]) - y0)


def _iou(a: Box, b: Box) -> float:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)
