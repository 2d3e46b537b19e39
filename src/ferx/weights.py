"""Load and save model weights with their model card: plain state_dicts (results/best_model.pt, card in a sidecar
best_model.json) and the packaged checkpoint (card inside)."""
from __future__ import annotations

import inspect
import json
import os
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

import torch

from .devices import resolve_device
from .errors import FerxError
from .files import save_torch, write_text
from .model import CLASSES, FER_MEAN, FER_STD, MODEL_CONFIGS, MiniXception

PRETRAINED = "mini_xception_emo.pt"
ONNX_CARD_KEY = "ferx.model_card"  # key of the card (JSON) in an exported .onnx file's metadata_props


def _json_args(args: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}


def full_args(model_args: dict) -> dict:
    """Every MiniXception constructor argument: `model_args` over the constructor's defaults (timm-style)."""
    defaults = {k: p.default for k, p in inspect.signature(MiniXception).parameters.items()}
    unknown = set(model_args) - set(defaults)
    if unknown:
        raise FerxError(f"model card: unknown MiniXception argument(s) {sorted(unknown)}")
    return _json_args({**defaults, **model_args})


@dataclass
class ModelCard:
    """What a set of weights is and how to feed it; saved with the weights so nothing depends on today's defaults."""

    architecture: str = "emo"  # the MODEL_CONFIGS variant it was built as ("custom" when none matches)
    model_args: dict = field(default_factory=dict)  # every MiniXception constructor argument, num_classes included
    classes: list[str] = field(default_factory=lambda: list(CLASSES))  # output index order
    input_size: int = 48  # gray faces, input_size x input_size
    # Applied inside the model (its mean/std buffers): inputs are gray pixels in [0, 1], nothing else to do.
    mean: float = FER_MEAN
    std: float = FER_STD
    temperature: float = 1.0  # probability calibration: softmax(logits / temperature); 1 = uncalibrated

    def __post_init__(self) -> None:
        self.model_args = full_args(self.model_args)
        self.classes = [str(c) for c in self.classes]
        if self.model_args["num_classes"] != len(self.classes):
            raise FerxError(f"model card: {self.model_args['num_classes']} outputs but {len(self.classes)} classes")
        if not self.temperature > 0:
            raise FerxError(f"model card: temperature {self.temperature!r} must be positive")

    @classmethod
    def for_variant(cls, name: str = "emo", classes: list[str] | tuple[str, ...] = CLASSES) -> "ModelCard":
        if name not in MODEL_CONFIGS:
            raise FerxError(f"unknown model {name!r}; choose from {sorted(MODEL_CONFIGS)}")
        return cls(name, {**MODEL_CONFIGS[name], "num_classes": len(classes)}, list(classes))

    def to_dict(self) -> dict:
        return {**asdict(self), "normalisation": "inside the model; inputs are gray pixels in [0, 1]"}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelCard":
        """A card from to_dict's output; keys this version does not know are ignored."""
        if not isinstance(d, dict):
            raise FerxError(f"model card: expected a mapping, found {type(d).__name__}")
        try:
            return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})
        except (TypeError, ValueError) as exc:
            raise FerxError(f"model card: {exc}") from None

    def build(self) -> MiniXception:
        """A freshly initialised network of this card's architecture."""
        return MiniXception(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.model_args.items()})


def _variant_of(model_args: dict) -> str:
    args = full_args(model_args)
    for name, config in MODEL_CONFIGS.items():
        if full_args({**config, "num_classes": args["num_classes"]}) == args:
            return name
    return "custom"


def card_path(weights: str | os.PathLike) -> Path:
    """The sidecar card of a plain state_dict: best_model.pt -> best_model.json."""
    return Path(weights).with_suffix(".json")


def save_card(card: ModelCard, path: str | os.PathLike) -> None:
    write_text(path, json.dumps(card.to_dict(), indent=2) + "\n")


def _read_torch(path: Path) -> object:
    if not path.is_file():
        raise FerxError(f"{path}: no such weights file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for non-checkpoint files
        raise FerxError(f"{path}: not a PyTorch weights file ({exc.__class__.__name__})") from None


def _card_of(path: Path, obj: object, model: str | None) -> tuple[ModelCard, object]:
    """The card and the state_dict of a loaded weights file."""
    if isinstance(obj, dict) and "state_dict" in obj:  # packaged checkpoint
        if "card" in obj:
            card = ModelCard.from_dict(obj["card"])
        else:  # packaged before the card existed: constructor arguments and classes at the top level
            args = {"num_classes": len(obj.get("classes", CLASSES)), **obj.get("model_args", {})}
            card = ModelCard(_variant_of(args), args, list(obj.get("classes", CLASSES)))
        state = obj["state_dict"]
    else:
        sidecar = card_path(path)
        if sidecar.is_file():
            try:
                card = ModelCard.from_dict(json.loads(sidecar.read_text()))
            except json.JSONDecodeError as exc:
                raise FerxError(f"{sidecar}: not a JSON model card ({exc.msg})") from None
        else:  # a bare state_dict: the variant the caller names, FER-2013's classes
            card = ModelCard.for_variant(model or "emo")
        state = obj
    return card, state


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu",
               model: str | None = None) -> tuple[MiniXception, ModelCard]:
    """An eval-mode MiniXception and its card, from a packaged checkpoint or a plain state_dict.

    A file's own card wins; a plain state_dict without a sidecar JSON is variant `model` (default "emo") with
    FER-2013's seven classes.
    """
    path = Path(path)
    card, state = _card_of(path, _read_torch(path), model)
    if not isinstance(state, dict):
        raise FerxError(f"{path}: expected a state_dict, found {type(state).__name__}")
    net = card.build()
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "mismatch"
        raise FerxError(f"{path}: weights are for another architecture ({first})") from None
    return net.to(resolve_device(device)).eval(), card


def load_weights(path: str | os.PathLike, device: str | torch.device = "cpu", model: str | None = None) -> MiniXception:
    """An eval-mode MiniXception from a packaged checkpoint or a plain state_dict (see load_model)."""
    return load_model(path, device, model)[0]


def load_model_card(path: str | os.PathLike, model: str | None = None) -> ModelCard:
    """The card of a weights file: .pt (packaged, or plain with its sidecar JSON) or an exported .onnx."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        if not path.is_file():
            raise FerxError(f"{path}: no such ONNX model file")
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        return card_from_metadata(props, path)
    return _card_of(path, _read_torch(path), model)[0]


def card_from_metadata(props: dict[str, str], path: str | os.PathLike) -> ModelCard:
    """The card in an ONNX file's metadata; the packaged model's card when the file has none (exported elsewhere)."""
    if ONNX_CARD_KEY not in props:
        return ModelCard.for_variant("emo")
    try:
        return ModelCard.from_dict(json.loads(props[ONNX_CARD_KEY]))
    except json.JSONDecodeError as exc:
        raise FerxError(f"{path}: model card in the metadata is not JSON ({exc.msg})") from None


def save_packaged(state_dict: dict, card: ModelCard | str, metrics: dict, path: str | os.PathLike) -> None:
    """A self-describing checkpoint: the model card and headline metrics beside the weights."""
    card = ModelCard.for_variant(card) if isinstance(card, str) else card
    save_torch({"state_dict": state_dict, "card": card.to_dict(), "metrics": metrics}, path)


def pretrained_path() -> Path:
    return Path(str(resources.files("ferx") / "weights" / PRETRAINED))


def load_pretrained(device: str | torch.device = "cpu") -> MiniXception:
    """The packaged Mini-Xception-Emo weights (trained by `ferx train` defaults), eval mode, offline."""
    return load_weights(pretrained_path(), device)
