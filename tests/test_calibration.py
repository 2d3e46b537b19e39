"""Calibrated probabilities: a temperature fitted on validation, ECE, and the temperature used wherever scores go out."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from ferx import EmotionRecognizer, FerxError
from ferx.cli import main
from ferx.data.fer2013 import load_train_test
from ferx.export import export_onnx
from ferx.inference.runtime import OnnxModel
from ferx.model import to_input
from ferx.results.calibration import calibration_metrics, ece, fit_temperature, nll, reliability, softmax
from ferx.results.evaluate import evaluate_run
from ferx.serving.server import create_app
from ferx.weights import card_path, load_model, load_model_card, pretrained_path, save_card

ROOT = Path(__file__).resolve().parents[1]


def sampled(n: int = 4000, scale: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / scale): calibrated at temperature `scale`."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 2, (n, 7))
    p = softmax(base)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return base * scale, labels


@pytest.mark.parametrize("scale", [2.5, 0.5])
def test_fitted_temperature_lowers_nll_and_keeps_the_argmax(scale: float) -> None:
    """Over-confident logits (x2.5) get T > 1, under-confident ones (x0.5) T < 1, both close to the truth."""
    logits, labels = sampled(scale=scale)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(scale, rel=0.1)
    assert nll(logits, labels, t) < nll(logits, labels) - 0.01
    assert nll(logits, labels, t) <= min(nll(logits, labels, t * f) for f in (0.9, 1.1))  # a minimum
    np.testing.assert_array_equal(softmax(logits, t).argmax(1), logits.argmax(1))
    m = calibration_metrics(t, *sampled(scale=scale, seed=1))  # held-out draws
    assert m["ece_after"] < m["ece_before"] and m["nll_after"] < m["nll_before"]


def test_ece_by_hand() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.2, 0.5, 0.3], [0.65, 0.3, 0.05]])
    labels = np.array([0, 1, 1, 0])
    # bins of width 1/15: two faces at 0.9 (one right), one at 0.5 (right), one at 0.65 (right)
    assert ece(probs, labels) == pytest.approx(2 / 4 * abs(0.5 - 0.9) + 1 / 4 * abs(1 - 0.5) + 1 / 4 * abs(1 - 0.65))
    assert ece(probs, labels, bins=1) == pytest.approx(abs(3 / 4 - (0.9 + 0.9 + 0.5 + 0.65) / 4))
    r = reliability(probs, labels)
    assert r["count"].sum() == 4 and r["count"][13] == 2 and r["count"][7] == 1 and r["count"][9] == 1
    assert ece(np.eye(3)[labels[:3] % 3], labels[:3] % 3) == 0  # sure and right: perfectly calibrated


@pytest.fixture(scope="module")
def hot_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged weights as a plain state_dict with a sidecar card that stores temperature 2."""
    out = tmp_path_factory.mktemp("hot")
    net, card = load_model(pretrained_path())
    torch.save(net.state_dict(), out / "best_model.pt")
    card.temperature = 2.0
    save_card(card, card_path(out / "best_model.pt"))
    return out


def test_scores_use_the_stored_temperature_everywhere(hot_run: Path, fer_root: Path, tmp_path: Path) -> None:
    crops = load_train_test(fer_root)["test"].images[:4]
    net, _ = load_model(pretrained_path())
    with torch.no_grad():
        logits = net(to_input(crops)).numpy()
    weights = hot_run / "best_model.pt"
    rec = EmotionRecognizer(weights, backend="torch", detector=None, tta="none")
    assert rec.temperature == 2.0
    np.testing.assert_allclose(rec.classify(crops), softmax(logits, 2.0), atol=1e-5)
    raw = EmotionRecognizer(weights, backend="torch", detector=None, tta="none", temperature=1.0).classify(crops)
    np.testing.assert_allclose(raw, softmax(logits), atol=1e-5)
    assert (raw.argmax(1) == softmax(logits, 2.0).argmax(1)).all()
    with pytest.raises(FerxError, match="temperature"):
        EmotionRecognizer(weights, backend="torch", temperature=0)
    # ONNX: the card (with its temperature) travels in the metadata.
    onnx = tmp_path / "hot.onnx"
    export_onnx(net, onnx, load_model_card(weights))
    assert OnnxModel(onnx).card.temperature == 2.0
    onnx_rec = EmotionRecognizer(onnx, detector=None, tta="none")
    np.testing.assert_allclose(onnx_rec.classify(crops), softmax(logits, 2.0), atol=1e-4)
    # The CLI's JSON and the server's answers are the recognizer's scores.
    from PIL import Image

    Image.fromarray(crops[0]).save(tmp_path / "face.png")
    assert main(["predict", str(tmp_path / "face.png"), "--weights", str(weights), "--no-detect", "--tta", "none",
                 "--json", str(tmp_path / "out.json")]) == 0
    scores = json.loads((tmp_path / "out.json").read_text())[str(tmp_path / "face.png")][0]["scores"]
    hot = rec.predict(tmp_path / "face.png")[0].scores
    cold = EmotionRecognizer(weights, backend="torch", detector=None, tta="none", temperature=1.0).predict(
        tmp_path / "face.png")[0].scores
    assert scores == pytest.approx(hot, abs=1e-5) and scores != pytest.approx(cold, abs=1e-3)
    client = TestClient(create_app(rec))
    faces = client.post("/predict", content=(tmp_path / "face.png").read_bytes()).json()["faces"]
    assert faces[0]["scores"] == pytest.approx(rec.predict(tmp_path / "face.png")[0].scores, abs=1e-6)


def test_evaluate_fits_on_validation_reports_on_test_and_stores_it(hot_run: Path, fer_root: Path,
                                                                    tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(hot_run, run)
    metrics = evaluate_run(run / "best_model.pt", fer_root, run, limit=400, val_limit=400, tta="flip")
    c = metrics["calibration"]
    assert {"temperature", "ece_before", "ece_after", "nll_before", "nll_after"} <= set(c)
    assert c["tta"] == "flip" and c["val_images"] == 40 and c["val_nll_after"] <= c["val_nll_before"]
    # The card's temperature is not the evaluation's starting point: the fit starts from the raw logits.
    assert c["temperature"] != pytest.approx(2.0, abs=0.05)
    assert json.loads((run / "metrics.json").read_text())["calibration"] == c
    assert load_model_card(run / "best_model.pt").temperature == pytest.approx(c["temperature"])
    assert (run / "calibration.png").stat().st_size > 10_000
    readme = (run / "README.md").read_text()
    assert "## Calibration" in readme and f"T = {c['temperature']:.3f}" in readme
    assert ("over-confident" if c["confidence_before"] > metrics["flip"]["accuracy"] else "under-confident") in readme


def test_package_carries_the_temperature(hot_run: Path, tmp_path: Path, monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("package_weights", ROOT / "scripts" / "package_weights.py")
    pkg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pkg)
    monkeypatch.setattr(pkg, "calibration_faces", lambda data: np.random.default_rng(0).integers(0, 255, (64, 48, 48),
                                                                                                 dtype=np.uint8))
    run = tmp_path / "run"
    shutil.copytree(hot_run, run)
    (run / "config.json").write_text(json.dumps({"model": "emo"}))
    (run / "metrics.json").write_text(json.dumps({"default": "views", "views": {"accuracy": 0.5, "macro_f1": 0.5,
                                                  "micro_auc": 0.5}, "calibration": {"temperature": 0.75}}))
    paths = pkg.package(run, "unused", tmp_path / "pkg")
    assert load_model_card(paths[0]).temperature == 0.75
    assert OnnxModel(paths[1]).card.temperature == 0.75 and OnnxModel(paths[2]).card.temperature == 0.75


def test_packaged_temperature_is_the_shipped_runs() -> None:
    """The packaged card holds the temperature results/metrics.json reports (1, uncalibrated, before there is one)."""
    metrics = json.loads((ROOT / "results" / "metrics.json").read_text())
    expected = metrics.get("calibration", {}).get("temperature", 1.0)
    assert load_model_card(pretrained_path()).temperature == pytest.approx(expected)
    assert OnnxModel(pretrained_path().with_suffix(".onnx")).card.temperature == pytest.approx(expected)
    assert EmotionRecognizer().temperature == pytest.approx(expected)


def test_evaluate_takes_the_temperature_of_other_weights(hot_run: Path, fer_root: Path, tmp_path: Path) -> None:
    """--temperature-from: a run without validation faces (--val-fraction 0) borrows its recipe's temperature."""
    source, run = tmp_path / "source", tmp_path / "run"
    shutil.copytree(hot_run, source)
    shutil.copytree(hot_run, run)
    card = load_model_card(source / "best_model.pt")
    card.temperature = 1.5
    save_card(card, card_path(source / "best_model.pt"))
    assert main(["evaluate", "--weights", str(run / "best_model.pt"), "--data", str(fer_root), "--out", str(run),
                 "--limit", "200", "--tta", "flip", "--temperature-from", str(source / "best_model.pt")]) == 0
    c = json.loads((run / "metrics.json").read_text())["calibration"]
    assert c["temperature"] == 1.5 and c["val_images"] == 0 and c["temperature_from"] == str(source / "best_model.pt")
    assert load_model_card(run / "best_model.pt").temperature == 1.5
    assert (run / "calibration.png").stat().st_size > 10_000 and c["nll_after"] != c["nll_before"]
    assert f"taken from `{source / 'best_model.pt'}`" in (run / "README.md").read_text()
