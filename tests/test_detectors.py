"""Face detectors: the name table, callables, the default detector on multi-face scenes and face-free pictures."""
from __future__ import annotations

import numpy as np
import pytest

from ferx import EmotionRecognizer, FerxError
from ferx.inference.faces import DEFAULT_DETECTOR, DETECTORS, get_detector
from ferx.inference.faces.crop import iou as _iou
from scenes import background, paste


@pytest.fixture(scope="module")
def test_faces(fer_root):
    from ferx.data.fer2013 import load_train_test

    return load_train_test(fer_root)["test"].images


def test_unknown_detector_names_the_valid_ones():
    with pytest.raises(FerxError, match="unknown detector 'retinaface'.*haar.*ssd"):
        get_detector("retinaface")
    with pytest.raises(FerxError, match="unknown detector"):
        EmotionRecognizer(detector="retinaface")  # a FerxError, not a TypeError when the first image arrives
    assert DEFAULT_DETECTOR in DETECTORS and {"haar", "ssd"} <= set(DETECTORS)


def test_callable_detector_is_used_as_given():
    seen = []

    def detector(gray):
        seen.append(gray.shape)
        return [(10, 20, 30, 30)]

    faces = EmotionRecognizer(detector=detector, tta="none").predict(np.zeros((100, 120, 3), np.uint8))
    assert seen == [(100, 120)] and [f.box for f in faces] == [(10, 20, 30, 30)]


@pytest.mark.parametrize("name", sorted({DEFAULT_DETECTOR, "centerface", "mtcnn", "centerface-checked"}))
def test_detector_finds_every_face_of_a_scene(test_faces, name):
    scene = background(540, 960, seed=3)
    places = [(30, 40, 48), (150, 60, 64), (300, 40, 90), (450, 250, 120), (620, 60, 150), (90, 300, 180)]
    truth = [paste(scene, test_faces[13 * k], x, y, s) for k, (x, y, s) in enumerate(places)]
    boxes = get_detector(name)(scene)
    found = [any(_iou(b, t) >= 0.3 for b in boxes) for t in truth]
    assert all(found), f"missed faces of {[t[2] for t, f in zip(truth, found) if not f]} px"
    assert len(boxes) == len(truth)  # one box per face, nothing else


@pytest.mark.parametrize("name", sorted({DEFAULT_DETECTOR, "centerface", "mtcnn", "centerface-checked"}))
def test_a_face_that_fills_the_frame_is_found(test_faces, name):
    import cv2

    detect = get_detector(name)
    for i in (26, 39, 52):  # tight crops, like CK+ or LFW-style sets: found once the image gets a border
        boxes = detect(cv2.resize(test_faces[i], (200, 200), interpolation=cv2.INTER_CUBIC))
        assert len(boxes) == 1 and boxes[0][2] * boxes[0][3] >= 0.3 * 200 * 200, (i, boxes)


def _on(box, truth, min_iou: float) -> bool:
    """`box` lands on the face `truth`: overlaps it and is centred within 10% of its size."""
    dx, dy = box[0] + box[2] / 2 - truth[0] - truth[2] / 2, box[1] + box[3] / 2 - truth[1] - truth[3] / 2
    return _iou(box, truth) >= min_iou and max(abs(dx), abs(dy)) <= 0.1 * truth[2]


# CenterFace boxes a face taller than wide (WIDER FACE's convention): 0.56x0.88 of a pasted FER-2013 square at
# 520 px, IoU 0.50; the SSD's squarer box overlaps it more. Both are centred on it.
MIN_IOU = {"ssd": 0.5, "centerface": 0.4, "mtcnn": 0.4, "centerface-checked": 0.4}


@pytest.mark.parametrize("name", ["ssd", "centerface", "mtcnn", "centerface-checked"])
def test_large_photo_is_searched_downscaled_and_boxed_in_original_pixels(test_faces, name):
    # 2048x1536: the pass runs on a downscaled copy; boxes must land on the faces of the full-size photo
    scene = background(1536, 2048, seed=4)
    truth = [paste(scene, test_faces[13 * k], x, y, s)
             for k, (x, y, s) in enumerate([(100, 200, 260), (800, 300, 400), (1500, 900, 520)])]
    boxes = get_detector(name)(scene)
    assert len(boxes) == 3 and all(any(_on(b, t, MIN_IOU[name]) for b in boxes) for t in truth), boxes


@pytest.mark.parametrize("name", ["ssd", "centerface"])
def test_a_face_filling_most_of_a_wide_photo_is_boxed_right(test_faces, name):
    # SSD: the coarsest prior layers' steps follow the input size (fixed for 300x300 in the prototxt, dropped at load)
    scene = background(480, 854, seed=5)
    truth = paste(scene, test_faces[26], 250, 40, 400)
    boxes = get_detector(name)(scene)
    assert len(boxes) == 1 and _on(boxes[0], truth, MIN_IOU[name]), boxes


@pytest.mark.parametrize("name", sorted({DEFAULT_DETECTOR, "centerface", "centerface-checked"}))
def test_detector_finds_no_face_in_face_free_pictures(name):
    data = pytest.importorskip("skimage.data")
    detect = get_detector(name)
    pictures = [getattr(data, n)() for n in ("coffee", "rocket", "coins", "text", "clock", "horse", "brick", "page")]
    pictures.append(background(480, 640, seed=7))
    found = {i: detect(np.asarray(p, dtype=np.uint8) if p.dtype == np.uint8 else (p * 255).astype(np.uint8))
             for i, p in enumerate(pictures)}
    assert not any(found.values()), found


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_detector_builds_from_packaged_files_and_takes_gray_or_rgb(name):
    detect = get_detector(name)
    assert detect.name == name
    blank = np.full((120, 160), 128, np.uint8)
    assert detect(blank) == [] and detect(np.dstack([blank] * 3)) == []


def test_ssd_keeps_sure_boxes_the_recheck_drops_and_no_box_inside_another(monkeypatch):
    # the two rules after the re-check, on stated candidates: (box, first-pass score, re-check score)
    from ferx.inference.faces.ssd import SSDDetector

    rows = [((10, 10, 100, 100), 0.95, 0.0),  # sure in the first pass, lost in the re-check: kept
            ((300, 10, 80, 80), 0.50, 0.0),   # unsure and lost: dropped
            ((300, 200, 90, 90), 0.40, 0.7),  # found again: kept
            ((40, 40, 30, 30), 0.92, 0.8)]    # an eye-sized box inside the first face: dropped
    det = SSDDetector()
    monkeypatch.setattr(det, "candidates", lambda bgr: ([r[0] for r in rows], np.array([r[1] for r in rows], np.float32)))
    monkeypatch.setattr(det, "verify", lambda bgr, boxes: (list(boxes), np.array([r[2] for r in rows], np.float32)))
    boxes, scores = det.detect(np.zeros((400, 500, 3), np.uint8))
    assert boxes == [(10, 10, 100, 100), (300, 200, 90, 90)]
    assert scores.tolist() == pytest.approx([0.95, 0.7])


def test_checked_centerface_keeps_sure_faces_and_the_unsure_ones_onet_confirms(monkeypatch):
    # stated candidates: (box, CenterFace score, O-Net face probability)
    from ferx.inference.faces.centerface import CenterFaceDetector
    from ferx.inference.faces.checked import CheckedCenterFaceDetector

    rows = [((10, 10, 100, 100), 0.9, 0.1),   # sure: kept whatever O-Net says
            ((200, 10, 60, 60), 0.2, 0.8),    # unsure, confirmed: kept
            ((300, 200, 60, 60), 0.1, 0.3),   # unsure, not confirmed: dropped
            ((80, 0, 40, 40), 0.1, 0.9),      # confirmed, but 3/4 of it on the sure face: dropped
            ((95, 50, 50, 50), 0.1, 0.9),     # confirmed, 30% on the sure face: dropped (a patch of it)
            ((100, 60, 50, 50), 0.1, 0.9)]    # confirmed, 20% on it: kept (a face beside it)
    det = CheckedCenterFaceDetector()
    asked = []
    monkeypatch.setattr(CenterFaceDetector, "_search", lambda self, image: (
        np.array([r[0] for r in rows], np.float32), np.array([r[1] for r in rows], np.float32),
        np.zeros((len(rows), 5, 2))))
    monkeypatch.setattr(det.checker, "face_scores", lambda image, boxes: (
        asked.append(boxes.tolist()), np.array([r[2] for r in rows if r[1] < 0.3], np.float32))[1])
    boxes, scores, points = det.detect(np.zeros((400, 500), np.uint8))
    assert asked == [[list(r[0]) for r in rows[1:]]]  # only the unsure ones go to O-Net
    assert boxes == [(10, 10, 100, 100), (200, 10, 60, 60), (100, 60, 50, 50)]
    assert scores.tolist() == pytest.approx([0.9, 0.2, 0.1])


def test_checked_centerface_searches_small_copies_with_the_float_network():
    from ferx.inference.faces.checked import CheckedCenterFaceDetector

    det = CheckedCenterFaceDetector()
    assert det._network(352, 352) is det.float_session and det._network(384, 288) is det.float_session
    assert det._network(640, 480) is det.session is not det.float_session  # int8 where it saves time
    assert CheckedCenterFaceDetector(int8=False).float_session is None


def test_int8_sessions_are_exact_where_8_bit_weights_would_overflow(monkeypatch):
    from ferx.inference import runtime

    monkeypatch.setattr(runtime, "int8_overflows", lambda: True)
    assert runtime.session_options().get_session_config_entry("session.x64quantprecision") == "1"
    monkeypatch.setattr(runtime, "int8_overflows", lambda: False)
    with pytest.raises(RuntimeError, match="does not have configuration"):  # onnxruntime's default kernels
        runtime.session_options().get_session_config_entry("session.x64quantprecision")


@pytest.mark.parametrize("name", ["centerface", "mtcnn", "centerface-checked"])
def test_landmark_detectors_give_five_points_inside_each_face(test_faces, name):
    scene = background(480, 640, seed=6)
    truth = paste(scene, test_faces[26], 200, 100, 200)
    boxes, scores, points = get_detector(name).detect(scene)
    assert len(boxes) == 1 and scores[0] >= 0.3 and points.shape == (1, 5, 2)
    (x, y, w, h), p = boxes[0], points[0]
    assert ((p[:, 0] >= x) & (p[:, 0] <= x + w) & (p[:, 1] >= y) & (p[:, 1] <= y + h)).all(), (boxes, p)
    assert p[0, 0] < p[1, 0] and max(p[0, 1], p[1, 1]) < p[2, 1] < min(p[3, 1], p[4, 1])  # eyes, nose, mouth


def test_int8_centerface_takes_uint8_pixels_with_the_same_outputs_as_its_quantize_step():
    """scripts/quantize_detector.py drops the input's QuantizeLinear only where it is an identity on 0-255 pixels."""
    import importlib.util
    import os
    from pathlib import Path

    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    spec = importlib.util.spec_from_file_location(
        "quantize_detector", Path(__file__).resolve().parents[1] / "scripts" / "quantize_detector.py")
    script = importlib.util.module_from_spec(spec)
    environ = dict(os.environ)
    try:
        spec.loader.exec_module(script)
    finally:  # its benchmark imports set OMP_NUM_THREADS=1, which later tests' training subprocesses would inherit
        os.environ.clear()
        os.environ.update(environ)

    def qdq(scale: float) -> onnx.ModelProto:
        nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                 helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]), helper.make_node("Relu", ["d"], ["y"])]
        inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
                 helper.make_tensor("z", TensorProto.UINT8, [], [0])]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])], inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])

    pixels = np.random.default_rng(0).integers(0, 256, (1, 3, 4, 4), np.uint8)
    model = qdq(1.0)
    before = ort.InferenceSession(model.SerializeToString()).run(None, {"x": pixels.astype(np.float32)})[0]
    assert script.uint8_input(model) and len(model.graph.node) == 2
    after = ort.InferenceSession(model.SerializeToString()).run(None, {"x": pixels})[0]
    np.testing.assert_array_equal(before, after)
    assert not script.uint8_input(other := qdq(0.5)) and len(other.graph.node) == 3  # not an identity: kept
    assert get_detector("centerface-int8").session.get_inputs()[0].type == "tensor(uint8)"
