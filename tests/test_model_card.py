"""Weights describe themselves: architecture, classes, input size and normalisation travel with them (issue 16.8)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ferx import EmotionRecognizer, FerxError, MiniXception
from ferx.cli import main
from ferx.export import export_onnx, quantize_onnx
from ferx.inference.runtime import OnnxModel
from ferx.model import CLASSES, MODEL_CONFIGS
from ferx.weights import (ModelCard, card_path, load_model, load_model_card, load_weights, save_card,
                          save_packaged)

SIX = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]  # a fine-tuned model's own class set


@pytest.fixture
def six_class(tmp_path: Path) -> tuple[ModelCard, dict]:
    """A small 6-class network of a layout no MODEL_CONFIGS variant has, with a temperature, and its state_dict."""
    card = ModelCard("custom", {"num_classes": 6, "stem_widths": [8, 16], "widths": [16, 32], "depth": 1}, SIX,
                     temperature=1.7)
    torch.manual_seed(0)
    return card, card.build().state_dict()


def test_card_round_trips_and_holds_every_constructor_argument(six_class) -> None:
    card, _ = six_class
    d = json.loads(json.dumps(card.to_dict()))
    assert ModelCard.from_dict(d) == card
    assert d["model_args"] == {"num_classes": 6, "in_chans": 1, "stem_widths": [8, 16], "stem_stride": 2,
                               "widths": [16, 32], "depth": 1, "drop_rate": 0.2}
    assert d["input_size"] == 48 and d["temperature"] == 1.7 and "inside the model" in d["normalisation"]
    with pytest.raises(FerxError, match="6 outputs but 7 classes"):
        ModelCard("custom", {"num_classes": 6}, list(CLASSES))


def test_packaged_checkpoint_does_not_depend_on_todays_defaults(six_class, tmp_path: Path, monkeypatch) -> None:
    card, state = six_class
    save_packaged(state, card, {"test": {}}, tmp_path / "m.pt")
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    assert set(saved) == {"state_dict", "card", "metrics"}
    monkeypatch.setitem(MODEL_CONFIGS, "emo", {"widths": (8,)})  # today's defaults change; the file does not care
    net, got = load_model(tmp_path / "m.pt")
    assert got == card and net(torch.rand(3, 1, 48, 48)).shape == (3, 6)


def test_old_packaged_format_still_loads(tmp_path: Path) -> None:
    state = MiniXception(**MODEL_CONFIGS["original"]).state_dict()
    torch.save({"state_dict": state, "model_args": MODEL_CONFIGS["original"], "classes": list(CLASSES), "metrics": {}},
               tmp_path / "old.pt")
    net, card = load_model(tmp_path / "old.pt")
    assert card.architecture == "original" and card.classes == list(CLASSES)
    assert card.model_args["widths"] == [16, 32, 64, 128]


def test_plain_state_dict_reads_its_sidecar_card(six_class, tmp_path: Path) -> None:
    card, state = six_class
    path = tmp_path / "best_model.pt"
    torch.save(state, path)
    with pytest.raises(FerxError, match="another architecture"):  # no card: taken for the 7-class "emo" variant
        load_weights(path)
    save_card(card, card_path(path))
    assert card_path(path).name == "best_model.json"
    assert load_model_card(path) == card
    assert load_weights(path)(torch.rand(1, 1, 48, 48)).shape == (1, 6)
    # A plain state_dict with the seven FER-2013 classes still loads with the published snippet.
    MiniXception(num_classes=6, stem_widths=(8, 16), widths=(16, 32), depth=1).load_state_dict(torch.load(path))


def test_recognizer_labels_and_csv_use_the_models_classes(six_class, tmp_path: Path) -> None:
    card, state = six_class
    torch.save(state, tmp_path / "w.pt")
    save_card(card, card_path(tmp_path / "w.pt"))
    rec = EmotionRecognizer(tmp_path / "w.pt", detector=None, tta="none")
    faces = rec.predict(np.full((48, 48), 128, np.uint8))
    assert list(faces[0].scores) == SIX and faces[0].emotion in SIX
    from PIL import Image

    Image.fromarray(np.full((60, 60, 3), 100, np.uint8)).save(tmp_path / "face.png")
    assert main(["predict", str(tmp_path / "face.png"), "--no-detect", "--weights", str(tmp_path / "w.pt"),
                 "--tta", "none", "--csv", str(tmp_path / "out.csv")]) == 0
    header = next(csv.reader(open(tmp_path / "out.csv")))
    assert header == ["image", "x", "y", "w", "h", "emotion", *SIX]


def test_onnx_export_carries_the_card_through_int8(six_class, tmp_path: Path) -> None:
    card, state = six_class
    net = card.build()
    net.load_state_dict(state)
    export_onnx(net, tmp_path / "m.onnx", card)
    assert OnnxModel(tmp_path / "m.onnx").card == card
    assert load_model_card(tmp_path / "m.onnx") == card
    quantize_onnx(tmp_path / "m.onnx", tmp_path / "m.int8.onnx", np.random.default_rng(0).integers(0, 256, (8, 48, 48), np.uint8))
    assert OnnxModel(tmp_path / "m.int8.onnx").card == card
    rec = EmotionRecognizer(tmp_path / "m.onnx", detector=None, tta="none")
    assert list(rec.predict(np.zeros((48, 48), np.uint8))[0].scores) == SIX


def test_web_page_draws_the_classes_it_is_sent() -> None:
    """The page of `ferx serve` takes class names from each face's scores, not from a list of its own."""
    from importlib import resources

    page = (resources.files("ferx") / "serving" / "static" / "index.html").read_text()
    assert "Object.keys(f.scores).map(" in page and "CLASSES.map(" not in page
