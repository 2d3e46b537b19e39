"""MTCNN (Zhang et al. 2016): a 12-px proposal net over an image pyramid, then 24-px and 48-px nets that re-score,
refine and add five landmarks.

Run by PyTorch from the weights packaged with ferx, `mtcnn.npz` (the original networks as converted by facenet,
MIT; see models/NOTICE.md). The networks were converted from Caffe, which is column-major: they see images with x
and y swapped, so every input here is transposed (N, C, x, y) and the outputs are read the same way.
"""
from __future__ import annotations

import threading
from importlib import resources

import cv2
import numpy as np
import torch
from torch import nn

from .crop import Box, face_boxes, search_or_border


class _Net(nn.Module):
    """A chain of conv + PReLU (+ max pool) stages, then linear heads; one class for P-, R- and O-Net."""

    def __init__(self, convs: list[tuple[int, int, int, int | None]], fc: tuple[int, int] | None, heads: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout, k, pool in convs:  # pool: kernel of the max pool after the stage (stride 2), or None
            layers += [nn.Conv2d(cin, cout, k), nn.PReLU(cout)]
            if pool:
                layers.append(nn.MaxPool2d(pool, 2, ceil_mode=True))  # ceil_mode: TensorFlow's 'SAME' pooling
        self.body = nn.Sequential(*layers)
        last = convs[-1][1]
        # P-Net is fully convolutional (1x1 heads); R- and O-Net end in a dense layer over the flattened 3x3 map
        self.fc = nn.Sequential(nn.Linear(*fc), nn.PReLU(fc[1])) if fc else None
        self.heads = nn.ModuleList(nn.Conv2d(last, n, 1) if fc is None else nn.Linear(fc[1], n) for n in heads)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.body(x)
        if self.fc is not None:
            x = self.fc(x.permute(0, 2, 3, 1).flatten(1))  # TensorFlow's flattening order (rows, cols, channels)
        return [head(x) for head in self.heads]


def _pnet() -> _Net:
    return _Net([(3, 10, 3, 2), (10, 16, 3, None), (16, 32, 3, None)], None, [2, 4])


def _rnet() -> _Net:
    return _Net([(3, 28, 3, 3), (28, 48, 3, 3), (48, 64, 2, None)], (64 * 3 * 3, 128), [2, 4])


def _onet() -> _Net:
    return _Net([(3, 32, 3, 3), (32, 64, 3, 3), (64, 64, 3, 2), (64, 128, 2, None)], (128 * 3 * 3, 256), [2, 4, 10])


def _load(net: _Net, weights: dict[str, np.ndarray], prefix: str) -> _Net:
    """Fill a net from the packaged arrays, stored in TensorFlow's layouts (conv HWIO, dense IO)."""
    params = list(net.parameters())
    arrays = [weights[f"{prefix}.{i}"] for i in range(len(params))]
    with torch.no_grad():
        for p, a in zip(params, arrays):
            a = a.transpose(3, 2, 0, 1) if a.ndim == 4 else a.T if a.ndim == 2 else a
            p.copy_(torch.from_numpy(np.ascontiguousarray(a)))
    return net.eval().to(memory_format=torch.channels_last)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, by_min: bool = False) -> np.ndarray:
    """Greedy suppression on (x0, y0, x1, y1) boxes as facenet does it: overlap over the union, or over the smaller
    box (which cv2.dnn.NMSBoxes, used elsewhere, cannot do)."""
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    order, keep = np.argsort(scores)[::-1], []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        lo, hi = np.maximum(boxes[i, :2], boxes[rest, :2]), np.minimum(boxes[i, 2:4], boxes[rest, 2:4])
        inter = np.prod(np.maximum(0.0, hi - lo + 1), axis=1)
        over = inter / (np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter)
        order = rest[over <= threshold]
    return np.asarray(keep, int)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Each box as the square of its longer side around the same centre."""
    wh = boxes[:, 2:4] - boxes[:, :2]
    side = np.maximum(wh.max(1, keepdims=True), 1.0)  # never an empty crop, whatever the regression says
    out = boxes.copy()
    out[:, :2] = boxes[:, :2] + wh / 2 - side / 2
    out[:, 2:4] = out[:, :2] + side
    return out


def _refine(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Move box edges by the regressed offsets, in units of the box's size."""
    wh = boxes[:, 2:4] - boxes[:, :2] + 1
    return np.concatenate([boxes[:, :2] + reg[:, :2] * wh, boxes[:, 2:4] + reg[:, 2:4] * wh], 1)


def _tensor(batch: np.ndarray) -> torch.Tensor:
    """(N, H, W) gray or (N, H, W, 3) RGB pixels as the nets take them: [-1, 1], three channels, transposed."""
    x = torch.from_numpy((batch.astype(np.float32) - 127.5) * 0.0078125)
    x = x[..., None].expand(*x.shape, 3) if x.ndim == 3 else x  # gray: the same plane in all three channels
    # channels-last: PyTorch's CPU max pooling is 3x faster in it
    return x.permute(0, 3, 2, 1).contiguous(memory_format=torch.channels_last)


def _patches(image: np.ndarray, boxes: np.ndarray, size: int) -> torch.Tensor:
    """size x size crops of (x0, y0, x1, y1) boxes, zero outside the image."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size) + image.shape[2:], np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(np.fix(boxes[:, :4]).astype(int)):
        canvas = np.zeros((y1 - y0 + 1, x1 - x0 + 1) + image.shape[2:], np.uint8)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1 + 1, w), min(y1 + 1, h)
        if cx1 > cx0 and cy1 > cy0:
            canvas[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = image[cy0:cy1, cx0:cx1]
        out[k] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return _tensor(out)


class MTCNNDetector:
    """MTCNN with the published thresholds (0.6, 0.7, 0.7) and pyramid factor 0.709, looking for faces of `min_face`
    px and more (the pyramid starts on a copy shrunk by 12 / min_face) on a copy whose long side is at most `max_side`
    px; boxes in the original's pixels. A face that fills the frame is looked for again with a border of `pad` times
    the long side.
    """

    name = "mtcnn"

    def __init__(self, min_face: int = 40, max_side: int = 1024,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), factor: float = 0.709, pad: float = 0.25):
        weights = np.load(resources.files("ferx.inference.faces") / "models" / "mtcnn.npz")
        self.pnet, self.rnet, self.onet = (_load(net(), weights, name)
                                           for net, name in ((_pnet, "pnet"), (_rnet, "rnet"), (_onet, "onet")))
        self.min_face, self.max_side, self.thresholds = min_face, max_side, thresholds
        self.factor, self.pad = factor, pad
        self.lock = threading.Lock()  # the HTTP service calls one detector from several threads

    def _proposals(self, image: np.ndarray) -> np.ndarray:
        """P-Net over the pyramid: (N, 9) rows of x0, y0, x1, y1, score and four box offsets."""
        h, w = image.shape[:2]
        scale, found, small = 12.0 / self.min_face, [], image
        while min(h, w) * scale >= 12:
            # each level shrunk from the one before: 7x faster than from the photo each time, at 640x480
            small = cv2.resize(small, (int(np.ceil(w * scale)), int(np.ceil(h * scale))), interpolation=cv2.INTER_AREA)
            logits, reg = self.pnet(_tensor(small[None]))
            prob, reg = torch.softmax(logits[0], 0)[1].numpy(), reg[0].numpy()
            xs, ys = np.nonzero(prob >= self.thresholds[0])  # first index x: the nets see transposed images
            if len(xs):
                score = prob[xs, ys]
                corner = np.stack([xs, ys], 1) * 2.0  # one cell per 2 px of the scaled copy, a 12-px window
                boxes = np.concatenate([np.fix((corner + 1) / scale), np.fix((corner + 12) / scale),
                                        score[:, None], reg[:, xs, ys].T], 1)
                found.append(boxes[_nms(boxes, score, 0.5)])
            scale *= self.factor
        return np.concatenate(found) if found else np.zeros((0, 9))

    def _search(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, w, h) boxes, scores and (N, 5, 2) landmarks of the faces in a gray or RGB image."""
        none = np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        boxes = self._proposals(image)
        if not len(boxes):
            return none
        boxes = boxes[_nms(boxes, boxes[:, 4], 0.7)]
        boxes = _square(_refine(boxes[:, :4], boxes[:, 5:9]))
        prob, reg = self.rnet(_patches(image, boxes, 24))
        score = torch.softmax(prob, 1)[:, 1].numpy()
        keep = score > self.thresholds[1]
        boxes, score, reg = boxes[keep], score[keep], reg.numpy()[keep]
        if not len(boxes):
            return none
        keep = _nms(boxes, score, 0.7)
        boxes = _square(_refine(boxes[keep], reg[keep]))
        boxes = np.fix(boxes)
        prob, reg, marks = self.onet(_patches(image, boxes, 48))
        score = torch.softmax(prob, 1)[:, 1].numpy()
        keep = score > self.thresholds[2]
        boxes, score, reg, marks = boxes[keep], score[keep], reg.numpy()[keep], marks.numpy()[keep]
        wh = boxes[:, 2:4] - boxes[:, :2] + 1
        points = np.stack([marks[:, :5] * wh[:, :1] + boxes[:, :1] - 1,
                           marks[:, 5:] * wh[:, 1:] + boxes[:, 1:2] - 1], 2)
        boxes = _refine(boxes, reg)
        keep = _nms(boxes, score, 0.7, by_min=True)
        return np.concatenate([boxes[keep, :2], boxes[keep, 2:4] - boxes[keep, :2]], 1), score[keep], points[keep]

    def detect(self, image: np.ndarray) -> tuple[list[Box], np.ndarray, np.ndarray]:
        """Boxes (x, y, w, h), scores and landmarks (N, 5, 2) for a gray (H, W) or RGB (H, W, 3) uint8 image."""
        image = image if image.ndim == 2 else np.ascontiguousarray(image[..., :3])
        h, w = image.shape[:2]
        shrink = min(1.0, self.max_side / max(h, w))
        if shrink < 1:
            image = cv2.resize(image, (round(w * shrink), round(h * shrink)), interpolation=cv2.INTER_AREA)
        with self.lock, torch.inference_mode():
            (boxes, scores, points), p = search_or_border(self._search, image, self.pad)
        out, keep = face_boxes((boxes - [p, p, 0, 0]) / shrink, w, h)
        return out, scores[keep], (points[keep] - p) / shrink

    def face_scores(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """O-Net's face probability for each (x, y, w, h) box of a gray or RGB image, the box squared first."""
        if not len(boxes):
            return np.zeros(0, np.float32)
        image = image if image.ndim == 2 else np.ascontiguousarray(image[..., :3])
        corners = _square(np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:4]], 1))
        with self.lock, torch.inference_mode():
            logits = self.onet(_patches(image, np.fix(corners), 48))[0]
        return torch.softmax(logits, 1)[:, 1].numpy()

    def __call__(self, image: np.ndarray) -> list[Box]:
        return sorted(self.detect(image)[0], key=lambda b: (b[0], b[1]))
