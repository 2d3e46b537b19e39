"""The public API: EmotionRecognizer.predict(image) -> one Face per face found, and detect_emotions()."""
from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .explain import Explanation, box_map, grad_cam
from .faces.crop import Box, Detector, check_boxes, crop_faces
from .faces import DEFAULT_DETECTOR, get_detector
from .images import DEFAULT_MAX_PIXELS, ImageInput, to_gray
from ..model import to_input
from ..devices import resolve_device
from ..errors import FerxError
from .views import DEFAULT, check_mode, tta_logits
from ..weights import ModelCard, load_model, pretrained_path


@dataclass
class Face:
    """One face: its box (x, y, w, h) in the input image, top emotion and the seven probabilities."""

    box: Box
    emotion: str
    scores: dict[str, float] = field(repr=False)

    def to_dict(self) -> dict:
        return {"box": list(self.box), "emotion": self.emotion, "scores": self.scores}


class EmotionRecognizer:
    """Detect faces and classify their expressions; packaged weights and CPU unless told otherwise.

    `detector`: a name from ferx.inference.faces.DETECTORS ("centerface-checked", the default, "centerface",
    "centerface-int8", "ssd", "haar", "blazeface", "mtcnn"), None (the whole image is one face), or a callable gray image -> boxes (x, y, w, h).
    `tta`: "views" (default, as `ferx evaluate`: face, mirror, 2-px shifts and a 44-px zoom of each, 12 passes),
    "cross" (the mirror and the zoomed face: 2 passes, the better two-pass path), "flip" (face + mirror) or "none";
    True and False mean "views" and "none".
    `backend`: "torch", "onnx" (onnxruntime, CPU; .pt weights are exported to ONNX once and cached under
    $FERX_CACHE, default ~/.cache/ferx), "int8" (the packaged int8 model or an .onnx from `ferx export --int8`),
    or "auto": onnx on the CPU (3-8x as fast as torch here, benchmarks/inference.py), torch on a GPU.
    `max_pixels`: image files and PIL images declaring more pixels are refused (ImageTooLarge) before decoding;
    None lifts ferx's limit (PIL's own Image.MAX_IMAGE_PIXELS still refuses above twice its value).
    `temperature`: scores are softmax(logits / temperature); None (default) uses the one stored with the weights
    (fitted on validation by `ferx train` / `ferx evaluate`), 1.0 gives the raw softmax. The argmax is the same.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        detector: str | Detector | None = DEFAULT_DETECTOR,
        tta: str | bool = DEFAULT,
        batch_size: int = 1024,
        backend: str = "auto",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        temperature: float | None = None,
    ):
        self.device = resolve_device(device)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise FerxError(f"batch_size {batch_size!r}: must be at least 1")
        if backend == "auto":
            backend = "onnx" if self.device.type == "cpu" else "torch"
        self.backend = backend
        if backend in ("onnx", "int8"):
            from .runtime import OnnxModel

            self.device = torch.device("cpu")
            source = weights or pretrained_path().with_suffix(".onnx" if backend == "onnx" else ".int8.onnx")
            if backend == "onnx" and Path(source).suffix != ".onnx":  # .pt weights: exported once, then cached
                from ..export import cached_onnx

                source = cached_onnx(source)
            self.model = OnnxModel(source)
            self.card: ModelCard = self.model.card
        elif backend == "torch":
            self.model, self.card = load_model(pretrained_path() if weights is None else weights, self.device)
        else:
            raise FerxError(f"unknown backend {backend!r}; choose auto, torch, onnx or int8")
        self.classes: list[str] = self.card.classes  # Face labels and score keys, in the model's output order
        self.temperature = self.card.temperature if temperature is None else float(temperature)
        if not self.temperature > 0:
            raise FerxError(f"temperature {temperature!r}: must be a positive number")
        self.weights, self._torch = weights, None  # the .pt model for explanations, loaded when first asked for
        self.detector = get_detector(detector)
        self.tta, self.batch_size = check_mode(tta), batch_size
        if max_pixels is not None and max_pixels < 1:
            raise FerxError(f"max_pixels {max_pixels}: must be a positive number of pixels, or None for no limit")
        self.max_pixels = max_pixels

    @torch.no_grad()
    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for uint8 face crops (N, 48, 48)."""
        out = []
        for i in range(0, len(crops), self.batch_size):
            x = to_input(crops[i : i + self.batch_size]).to(self.device)
            logits = tta_logits(self.model, x, self.tta)
            out.append(torch.softmax(logits / self.temperature, 1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def find_faces(self, gray: np.ndarray, boxes: Sequence[Box] | None = None) -> list[Box]:
        if boxes is not None:
            return check_boxes(boxes, gray.shape)
        if self.detector is None:
            return [(0, 0, gray.shape[1], gray.shape[0])]
        return list(self.detector(gray))

    def predict_many(self, images: Sequence[ImageInput], bgr: bool = False) -> list[list[Face]]:
        """Faces of several images, all crops classified in one batched pass."""
        grays = [to_gray(im, bgr, self.max_pixels) for im in images]
        boxes = [self.find_faces(g) for g in grays]
        crops = [crop_faces(g, b) if b else np.zeros((0, 48, 48), np.uint8) for g, b in zip(grays, boxes)]
        probs = self.classify(np.concatenate(crops)) if crops else np.zeros((0, len(self.classes)))
        out, k = [], 0
        for b in boxes:
            out.append([self._face(box, p) for box, p in zip(b, probs[k : k + len(b)])])
            k += len(b)
        return out

    def predict(self, image: ImageInput, boxes: Sequence[Box] | None = None, bgr: bool = False) -> list[Face]:
        """Faces in one image (path, PIL image or array; `bgr` for OpenCV arrays); [] when there is none."""
        if boxes is None:
            return self.predict_many([image], bgr)[0]
        gray = to_gray(image, bgr, self.max_pixels)
        boxes = self.find_faces(gray, boxes)
        return [self._face(b, p) for b, p in zip(boxes, self.classify(crop_faces(gray, boxes)))] if boxes else []

    def explain(self, image: ImageInput, target: str | int | None = None, boxes: Sequence[Box] | None = None,
                bgr: bool = False) -> list[Explanation]:
        """Each face with its Grad-CAM map (inference/explain.py) for `target` (a class name or index), by default
        the class predicted; the map is over the face's box. [] when there is no face."""
        gray = to_gray(image, bgr, self.max_pixels)
        boxes = self.find_faces(gray, boxes)
        if not boxes:
            return []
        crops = crop_faces(gray, boxes)
        faces = [self._face(b, p) for b, p in zip(boxes, self.classify(crops))]
        wanted = [self.class_index(target) if target is not None else self.classes.index(f.emotion) for f in faces]
        net = self.torch_model()
        maps = grad_cam(net, to_input(crops).to(next(net.parameters()).device), wanted)[0].cpu().numpy()
        return [Explanation(f, self.classes[t], box_map(m, f.box), c, m) for f, t, m, c in zip(faces, wanted, maps, crops)]

    def class_index(self, name: str | int) -> int:
        """The output index of a class name (or an index, checked)."""
        if isinstance(name, (int, np.integer)) and 0 <= name < len(self.classes):
            return int(name)
        if name in self.classes:
            return self.classes.index(name)
        raise FerxError(f"unknown class {name!r}; choose from {', '.join(self.classes)}")

    def torch_model(self) -> torch.nn.Module:
        """The PyTorch model, which explanations need for gradients: the onnx and int8 backends load the .pt weights
        (the packaged ones, or the .pt beside an .onnx file: x.onnx or x.int8.onnx -> x.pt)."""
        if isinstance(self.model, torch.nn.Module):
            return self.model
        if self._torch is None:
            path = pretrained_path() if self.weights is None else Path(self.weights)
            if path.suffix == ".onnx":
                path = path.with_name(path.name.removesuffix(".onnx").removesuffix(".int8") + ".pt")
            if not path.is_file():
                raise FerxError(f"{self.weights}: explanations need the PyTorch weights; put {path.name} beside it, "
                                "or use the .pt file with backend='torch'")
            self._torch = load_model(path)[0]
        return self._torch

    def _face(self, box: Box, probs: np.ndarray) -> Face:
        return Face(box=box, emotion=self.classes[int(probs.argmax())],
                    scores={c: float(p) for c, p in zip(self.classes, probs)})


_default: EmotionRecognizer | None = None


def detect_emotions(image: ImageInput, bgr: bool = False) -> list[Face]:
    """Faces and their expressions in one image, with a shared default EmotionRecognizer."""
    global _default
    if _default is None:
        _default = EmotionRecognizer()
    return _default.predict(image, bgr=bgr)
