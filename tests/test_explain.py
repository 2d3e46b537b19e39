"""Saliency maps: they mean something (deletion and randomisation checks), sit on the right face, and reach every output."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from ferx import EmotionRecognizer, FerxError, load_pretrained
from ferx.cli import main
from ferx.data.fer2013 import load_train_test
from ferx.inference.explain import box_map, class_maps, grad_cam
from ferx.model import to_input
from ferx.results.faithfulness import deletion_check, randomisation_check
from ferx.serving.server import create_app
from ferx.weights import pretrained_path

from scenes import background, detectable_faces, paste

# Measured on the model packaged on 2026-11-27 (scripts/explain_gallery.py prints it): margin 0.051, standard error
# 0.011, over these 500 faces; the assertion keeps 40% of it so a retrained model that still points at its evidence
# passes, and a map no better than a random region of the same smoothness fails.
MIN_MARGIN = 0.02


@pytest.fixture(scope="module")
def test_faces(fer_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """500 seeded FER-2013 test faces and their labels."""
    test = load_train_test(fer_root)["test"]
    idx = np.random.default_rng(0).choice(len(test), 500, replace=False)
    return test.images[idx], test.labels[idx]


def test_blanking_the_map_hurts_more_than_blanking_a_random_region(test_faces) -> None:
    r = deletion_check(load_pretrained(), test_faces[0], fraction=0.2)
    assert r["faces"] == 500
    assert r["margin"] > MIN_MARGIN, r
    assert r["drop_map"] > r["drop_random_region"]


def test_randomising_the_last_block_changes_the_maps(test_faces) -> None:
    r = randomisation_check(load_pretrained(), test_faces[0][:200])
    assert r["spearman_mean"] < 0.5, r


def test_maps_follow_the_face_and_the_target(fer_root: Path) -> None:
    face = detectable_faces(str(fer_root))[0]
    rec = EmotionRecognizer(backend="torch", detector=None, tta="none")
    (bare,) = rec.explain(face)
    assert bare.target == bare.face.emotion and bare.crop_map.shape == (48, 48) and bare.crop_map.max() == 1
    scene = background(360, 480)
    box = paste(scene, face, 200, 90, 150)
    (placed,) = rec.explain(scene, boxes=[box])
    assert placed.face.box == tuple(box) and placed.heatmap.shape == (box[3], box[2])
    assert placed.face.emotion == bare.face.emotion
    # The map over the box is the crop's map, scaled: compare on the crop's grid.
    small = cv2.resize(placed.heatmap, (48, 48), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(small.ravel(), bare.crop_map.ravel())[0, 1] > 0.9
    # A map of another class is that class's Grad-CAM.
    other = next(c for c in rec.classes if c != bare.target)
    (forced,) = rec.explain(face, target=other)
    expected, _ = grad_cam(rec.model, to_input(forced.crop[None]), [rec.classes.index(other)])
    assert forced.target == other
    np.testing.assert_allclose(forced.crop_map, expected[0].numpy(), atol=1e-5)
    with pytest.raises(FerxError, match="unknown class 'bored'"):
        rec.explain(face, target="bored")


def test_box_map_inverts_the_crop() -> None:
    """A mark on the crop's map lands on the same spot of the box, for tall, wide and edge boxes."""
    crop_map = np.zeros((48, 48), np.float32)
    crop_map[10:14, 30:34] = 1
    for box in [(0, 0, 96, 96), (50, 20, 80, 120), (7, 3, 130, 90)]:
        m = box_map(crop_map, box)
        assert m.shape == (box[3], box[2])
        side = max(box[2], box[3]) * 1.04
        cy, cx = np.unravel_index(np.argmax(cv2.GaussianBlur(m, (5, 5), 0)), m.shape)
        # expected: the mark's centre (12, 32) of 48, in the square's pixels, minus the box's offset in the square
        ey = 12 / 48 * side - (side - box[3]) / 2
        ex = 32 / 48 * side - (side - box[2]) / 2
        assert abs(cy - ey) <= side / 24 and abs(cx - ex) <= side / 24, (box, cy, ey, cx, ex)


def test_class_maps_and_onnx_backend_give_the_torch_maps(fer_root: Path) -> None:
    faces = np.stack(detectable_faces(str(fer_root))[:3])
    model = load_pretrained()
    every = class_maps(model, to_input(faces))
    assert every.shape == (3, 7, 48, 48)
    for c in (0, 3):
        np.testing.assert_allclose(every[:, c], grad_cam(model, to_input(faces), [c] * 3)[0], atol=1e-5)
    onnx_rec = EmotionRecognizer(detector=None, tta="none")  # onnxruntime: maps from the packaged .pt beside it
    torch_rec = EmotionRecognizer(backend="torch", detector=None, tta="none")
    np.testing.assert_allclose(onnx_rec.explain(faces[0])[0].crop_map, torch_rec.explain(faces[0])[0].crop_map, atol=1e-5)


def test_onnx_without_torch_weights_says_so(tmp_path: Path, fer_root: Path) -> None:
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(pretrained_path().with_suffix(".onnx").read_bytes())
    rec = EmotionRecognizer(lone, detector=None)
    with pytest.raises(FerxError, match="explanations need the PyTorch weights"):
        rec.explain(detectable_faces(str(fer_root))[0])


@pytest.fixture
def scene_file(fer_root: Path, tmp_path: Path) -> Path:
    scene = background(360, 480)
    paste(scene, detectable_faces(str(fer_root))[0], 150, 80, 160)
    path = tmp_path / "in" / "scene.png"
    path.parent.mkdir()
    Image.fromarray(scene).save(path)
    return path


def test_cli_explain_writes_the_crop_map_and_the_class_sheet(scene_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "maps"
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not an image")
    assert main(["explain", str(scene_file.parent), "--out", str(out), "--target", "fear"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["scene_face1_classes.png", "scene_face1_fear.png"]
    assert cv2.imread(str(out / "scene_face1_fear.png")).shape == (192, 192, 3)
    assert cv2.imread(str(out / "scene_face1_classes.png")).shape[1] > 600
    captured = capsys.readouterr()
    assert "scene.png: 1 face(s)" in captured.out and "broken.jpg" in captured.err
    assert main(["explain", str(scene_file), "--out", str(out), "--target", "bored"]) == 2
    assert "unknown class 'bored'" in capsys.readouterr().err


def test_server_explain_flag_adds_box_maps(scene_file: Path) -> None:
    client = TestClient(create_app(EmotionRecognizer()))
    data = scene_file.read_bytes()
    plain = client.post("/predict", content=data).json()["faces"]
    (face,) = client.post("/predict?explain=1", content=data).json()["faces"]
    assert "heatmap" not in plain[0] and face["box"] == plain[0]["box"] and face["scores"] == plain[0]["scores"]
    heat = np.array(face["heatmap"])
    assert face["target"] == face["emotion"] and heat.shape == (48, 48)
    assert heat.min() >= 0 and heat.max() == pytest.approx(1, abs=0.01)


def test_model_split_keeps_outputs() -> None:
    """forward_head(forward_features(x)) is forward(x): the maps explain the model that predicts."""
    model = load_pretrained()
    x = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x))
