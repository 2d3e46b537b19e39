"""Faces in real-looking photos: FER-2013 test faces pasted into scenes, every input kind, the CLI."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ferx import CLASSES
from ferx.cli import main
from ferx.inference.faces.crop import crop_faces
from ferx.inference.recognizer import EmotionRecognizer, detect_emotions
from ferx.inference.video import iou
from ferx.weights import load_pretrained

from scenes import background, detectable_faces, paste


@pytest.fixture(scope="module")
def rec() -> EmotionRecognizer:
    return EmotionRecognizer()


@pytest.fixture(scope="module")
def faces(fer_root: Path) -> tuple[np.ndarray, ...]:
    found = detectable_faces(str(fer_root))
    assert len(found) == 6
    return found


@pytest.fixture(scope="module")
def scene(faces) -> tuple[np.ndarray, list]:
    """A 640x480 RGB photo with two faces of different sizes at known boxes."""
    img = background(480, 640)
    boxes = [paste(img, faces[0], 60, 120, 180), paste(img, faces[1], 380, 60, 220)]
    return img, boxes


def matches(found, boxes) -> list:
    """For each known box, the detected face overlapping it most (IoU > 0.5), or None."""
    out = []
    for b in boxes:
        best = max(found, key=lambda f: iou(f.box, b), default=None)
        out.append(best if best is not None and iou(best.box, b) > 0.5 else None)
    return out


def test_every_face_found_and_classified_like_the_bare_crop(rec, scene, faces) -> None:
    img, boxes = scene
    found = rec.predict(img)
    assert len(found) == 2
    bare = rec.classify(np.stack(faces[:2]))
    for face, probs in zip(matches(found, boxes), bare):
        assert face is not None
        assert face.emotion == CLASSES[int(probs.argmax())]
        assert set(face.scores) == set(CLASSES) and abs(sum(face.scores.values()) - 1) < 1e-5


def test_no_face_gives_an_empty_list(rec) -> None:
    assert rec.predict(background(480, 640, seed=3)) == []
    assert detect_emotions(np.zeros((100, 100), np.uint8)) == []


def test_user_boxes_skip_detection(scene) -> None:
    img, boxes = scene
    rec = EmotionRecognizer(backend="torch", tta="none")
    found = rec.predict(img, boxes=boxes)
    assert [f.box for f in found] == [tuple(b) for b in boxes]
    # Expected by hand: each box grown by 2% a side (180 -> 187 px, 220 -> 229 px) about its centre, resized to 48,
    # then the model itself: nothing of predict's own chain (crop_faces, views, classify).
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    crops = [gray[116:303, 56:243], gray[56:285, 376:605]]
    x = torch.from_numpy(np.stack([cv2.resize(c, (48, 48), interpolation=cv2.INTER_AREA) for c in crops]))
    logits = load_pretrained()(x[:, None].float() / 255)
    expected = torch.softmax(logits / getattr(rec, "temperature", 1.0), 1).detach().numpy()
    np.testing.assert_allclose([list(f.scores.values()) for f in found], expected,
                               atol=2e-3)  # OpenCV's and PIL's gray conversions round differently


def colour_scene(faces) -> tuple[np.ndarray, list]:
    """RGB faces whose gray (0.299 R + 0.587 G + 0.114 B) shows them, while read as BGR they are flat:
    R = face, G = 128, B = 200 - 0.381 face (0.299 x 0.381 = 0.114: B cancels R when the two are swapped)."""
    img = background(480, 640, seed=7)
    boxes = []
    for face, (x, y, size) in zip(faces[:2], [(60, 120, 180), (380, 60, 220)]):
        f = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float64)
        img[y : y + size, x : x + size] = np.dstack([f, np.full_like(f, 128), 200 - 0.381 * f]).round().astype(np.uint8)
        boxes.append((x, y, size, size))
    return img, boxes


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_array_channel_order(faces, order: str) -> None:
    # Haar normalises contrast per window, so it sees these faces at a quarter of their contrast in gray;
    # the default CNN detector does not (benchmarks/detectors.py measures it on real photos instead).
    rec = EmotionRecognizer(detector="haar")
    img, boxes = colour_scene(faces)
    array = img if order == "rgb" else np.ascontiguousarray(img[..., ::-1])
    found = rec.predict(array, bgr=order == "bgr")
    assert all(m is not None for m in matches(found, boxes))
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    np.testing.assert_allclose([list(f.scores.values()) for f in rec.predict(array, boxes, bgr=order == "bgr")],
                               rec.classify(crop_faces(gray, boxes)), atol=2e-3)
    swapped = rec.predict(array, bgr=order != "bgr")  # the other channel order sees no face at all
    assert all(m is None for m in matches(swapped, boxes))


@pytest.mark.parametrize("kind", ["jpg", "png", "bmp", "webp", "rgba", "gray16", "gray", "pil"])
def test_every_input_kind(rec, scene, tmp_path: Path, kind: str) -> None:
    img, boxes = scene
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if kind in ("jpg", "png", "bmp", "webp"):
        source = tmp_path / f"photo.{kind}"
        Image.fromarray(img).save(source)
    elif kind == "rgba":
        source = tmp_path / "photo.png"
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]), "RGBA").save(source)
    elif kind == "gray16":
        source = tmp_path / "photo16.png"
        cv2.imwrite(str(source), gray.astype(np.uint16) * 257)
        assert cv2.imread(str(source), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    elif kind == "gray":
        source = gray
    else:
        source = Image.fromarray(img)
    found = rec.predict(source)
    assert all(m is not None for m in matches(found, boxes)), kind


def test_exif_rotated_phone_photo(rec, scene, tmp_path: Path) -> None:
    img, boxes = scene
    stored = Image.fromarray(img).rotate(90, expand=True)  # sensor pixels turned; EXIF says how to show them
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    found = rec.predict(path)
    assert all(m is not None for m in matches(found, boxes))


def test_very_large_image_reports_original_coordinates(rec, faces) -> None:
    img = background(3000, 4000)
    box = paste(img, faces[2], 1500, 900, 700)
    found = rec.predict(img)
    # CenterFace boxes the face inside a FER-2013 crop (IoU 0.42-0.89 with the crop over the six test faces), so the
    # check is that the box sits on the crop in the original's pixels, not in the 640-px copy's
    (x, y, w, h) = found[0].box if len(found) == 1 else (0, 0, 0, 0)
    assert len(found) == 1 and iou(found[0].box, box) > 0.4
    assert 1500 < x + w / 2 < 2200 and 900 < y + h / 2 < 1600 and w > 350


def test_many_images_in_one_batch_equal_one_by_one(rec, faces) -> None:
    scenes = []
    for i in range(3):
        img = background(360, 480, seed=i)
        paste(img, faces[3 + i], 150, 80, 160)
        scenes.append(img)
    batched = rec.predict_many(scenes)
    for img, got in zip(scenes, batched):
        single = rec.predict(img)
        assert [f.box for f in got] == [f.box for f in single]
        np.testing.assert_allclose([list(f.scores.values()) for f in got], [list(f.scores.values()) for f in single], atol=1e-5)


@pytest.fixture
def photo_dir(scene, faces, tmp_path: Path) -> Path:
    img, _ = scene
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(img).save(d / "group.jpg")
    Image.fromarray(background(300, 400, seed=5)).save(d / "sub" / "empty.png")
    (d / "notes.txt").write_text("not an image")
    return d


def test_cli_predict_writes_json_csv_and_annotations(photo_dir: Path, tmp_path: Path, capsys) -> None:
    out_json, out_csv, ann = tmp_path / "out.json", tmp_path / "faces.csv", tmp_path / "annotated"
    assert main(["predict", str(photo_dir), "--json", str(out_json), "--csv", str(out_csv), "--annotate", str(ann)]) == 0
    stdout = capsys.readouterr().out
    assert "group.jpg" in stdout and "empty.png: no face" in stdout
    data = json.loads(out_json.read_text())
    assert len(data[str(photo_dir / "group.jpg")]) == 2 and data[str(photo_dir / "sub" / "empty.png")] == []
    face = data[str(photo_dir / "group.jpg")][0]
    assert set(face) == {"box", "emotion", "scores"} and face["emotion"] == max(face["scores"], key=face["scores"].get)
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == 2 and rows[0]["image"].endswith("group.jpg")
    annotated = cv2.imread(str(ann / "group.jpg"))
    original = cv2.imread(str(photo_dir / "group.jpg"))
    assert annotated.shape == original.shape and np.abs(annotated.astype(int) - original).sum() > 0
    assert (ann / "sub" / "empty.png").exists()


def test_cli_predict_no_detect_on_crops(faces, tmp_path: Path, capsys) -> None:
    crop = cv2.resize(faces[0], (96, 96))
    Image.fromarray(crop).save(tmp_path / "crop.png")
    assert main(["predict", str(tmp_path / "crop.png"), "--no-detect", "--json", str(tmp_path / "o.json")]) == 0
    (face,) = json.loads((tmp_path / "o.json").read_text())[str(tmp_path / "crop.png")]
    assert face["box"] == [0, 0, 96, 96]


def test_cli_predict_bad_files_reported_others_processed(photo_dir: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    missing = tmp_path / "missing.png"
    assert main(["predict", str(bad), str(missing), str(photo_dir / "group.jpg")]) == 0
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert any(str(bad) in e and "not a readable image" in e for e in errors)
    assert any(str(missing) in e and "no such file" in e for e in errors)
    assert "group.jpg" in captured.out


def test_cli_predict_nothing_processed_exits_nonzero(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert main(["predict", str(tmp_path / "empty.jpg")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'empty.jpg'}: empty file" in err and "no image could be processed" in err


@pytest.mark.parametrize("given", ["files", "folders"])
def test_cli_annotations_of_inputs_sharing_a_name_do_not_overwrite(scene, tmp_path: Path, given: str) -> None:
    img, _ = scene
    a, b, ann = tmp_path / "a", tmp_path / "b", tmp_path / "annotated"
    a.mkdir(), b.mkdir()
    Image.fromarray(img).save(a / "x.png")  # two faces: its copy gets boxes drawn
    empty = background(200, 300, seed=9)
    Image.fromarray(empty).save(b / "x.png")  # no face: its copy is the image unchanged
    paths = [a / "x.png", b / "x.png"] if given == "files" else [a, b]
    assert main(["predict", *map(str, paths), "--annotate", str(ann)]) == 0
    assert sorted(p.name for p in ann.iterdir()) == ["x-2.png", "x.png"]
    first, second = (np.asarray(Image.open(ann / n).convert("RGB")) for n in ("x.png", "x-2.png"))
    assert first.shape == img.shape and np.abs(first.astype(int) - img).sum() > 0
    np.testing.assert_array_equal(second, empty)
