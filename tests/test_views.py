"""Test-time views: what each view does to the pixels, and that every prediction path averages the same views."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ferx.cli import main
from ferx.data.fer2013 import load_train_test
from ferx.errors import FerxError
from ferx.model import to_input
from ferx.inference.recognizer import EmotionRecognizer
from ferx.inference.views import (MODES, ONNX_FROM, check_mode, forward_passes, mode_probs, mode_rows, predict_views,
                                  shift, tta_logits, view_stack, zoom)
from ferx.weights import load_pretrained


def test_shift_moves_pixels_and_replicates_the_edge() -> None:
    x = torch.zeros(1, 1, 48, 48)
    x[..., 10, 20] = 1.0
    x[..., :, 0] = 0.5  # the left column
    right = shift(x, 2, 0)
    assert right[0, 0, 10, 22] == 1.0 and right[0, 0, 10, 20] == 0.0
    assert torch.all(right[0, 0, :, :3] == 0.5)  # the left edge, replicated into the gap
    down = shift(x, 0, -2)
    assert down[0, 0, 8, 20] == 1.0 and down.shape == x.shape


def test_shift_equals_replicate_padding_then_a_crop() -> None:
    import torch.nn.functional as F

    x = torch.rand(3, 1, 48, 48)
    for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2), (3, -1)):
        k = max(abs(dx), abs(dy))
        padded = F.pad(x, (k, k, k, k), mode="replicate")
        assert torch.equal(shift(x, dx, dy), padded[..., k - dy : k - dy + 48, k - dx : k - dx + 48])


def test_zoom_keeps_the_size_and_enlarges_the_centre() -> None:
    x = torch.zeros(1, 1, 48, 48)
    x[..., 14:34, 14:34] = 1.0  # a 20-pixel square in the centre
    z = zoom(x)
    assert z.shape == x.shape
    assert z.sum() / x.sum() == pytest.approx((48 / 44) ** 2, rel=0.02)  # the area grows by the zoom squared
    torch.testing.assert_close(zoom(torch.full((2, 1, 48, 48), 0.3)), torch.full((2, 1, 48, 48), 0.3))


def test_each_mode_averages_its_rows_of_the_six_views(fer_root: Path) -> None:
    model = load_pretrained()
    x = to_input(load_train_test(fer_root)["test"].images[:16])
    stack = view_stack(model, x)
    assert stack.shape == (6, 16, 7)
    with torch.no_grad():
        face, mirror = model(x), model(x.flip(3))  # one view per call
        shifted = torch.stack([model(shift(x, dx, dy)) for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2))]).mean(0)
        zoomed_face, zoomed_mirror = model(zoom(x)), model(zoom(x.flip(3)))
    torch.testing.assert_close(stack[0], face)
    torch.testing.assert_close(stack[1], mirror)
    torch.testing.assert_close(stack[2], shifted)
    torch.testing.assert_close(stack[5], zoomed_mirror)  # 16 faces x 12 views went through the model in one call
    torch.testing.assert_close(tta_logits(model, x, "flip"), (face + mirror) / 2)
    torch.testing.assert_close(tta_logits(model, x, "cross"), (mirror + zoomed_face) / 2)
    for mode, views in MODES.items():
        torch.testing.assert_close(tta_logits(model, x, mode), stack[mode_rows(mode)].mean(0))
        assert view_stack(model, x, mode).shape[0] == len(views)
        # a stack of the mode itself gives the same probabilities as the six views' rows of it
        np.testing.assert_allclose(mode_probs(view_stack(model, x, mode), mode)[mode], mode_probs(stack)[mode], atol=1e-6)


def test_predict_views_runs_channels_last_on_a_copy_with_the_same_logits(fer_root: Path) -> None:
    model = load_pretrained()
    faces = load_train_test(fer_root)["test"].images[:301]  # batches of 128, 128 and an odd 45
    got = predict_views(model, faces, "flip", batch_size=128)
    assert got.shape == (2, 301, 7)
    assert all(p.is_contiguous() for p in model.parameters())  # the caller's model keeps its NCHW layout
    want = torch.cat([view_stack(model, to_input(faces[i : i + 128]), "flip") for i in range(0, 301, 128)], 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)  # the layout changes the arithmetic's order only
    assert (got.mean(0).argmax(1) == want.mean(0).argmax(1)).all()


def test_predict_views_hands_a_long_cpu_job_to_an_onnx_copy(fer_root: Path, monkeypatch) -> None:
    from ferx.inference import runtime

    model, copies, real = load_pretrained(), [], runtime.onnx_copy
    monkeypatch.setattr(runtime, "onnx_copy", lambda m: copies.append(m) or real(m))
    faces = load_train_test(fer_root)["test"].images[:ONNX_FROM // 2]
    assert forward_passes("flip") == 2 and forward_passes("views") == 12
    got = predict_views(model, faces, "flip")  # exactly ONNX_FROM passes
    assert copies == [model]
    predict_views(model, faces[:-1], "flip")  # one face fewer: PyTorch
    assert len(copies) == 1
    want = torch.cat([view_stack(model, to_input(faces[i : i + 512]), "flip") for i in range(0, len(faces), 512)], 1)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    assert (got.mean(0).argmax(1) == want.mean(0).argmax(1)).float().mean() >= 0.999


def test_recognizer_evaluation_and_onnx_agree_on_the_default_path(fer_root: Path) -> None:
    crops = load_train_test(fer_root)["test"].images[:128]
    probs = mode_probs(predict_views(load_pretrained(), crops, "views"))
    assert set(probs) == set(MODES)
    torch_rec = EmotionRecognizer(backend="torch")
    assert torch_rec.tta == "views"
    # The recognizer divides the logits by the card's temperature: softmax(log p / T) == softmax(logits / T).
    t = torch_rec.temperature
    probs_t = {k: torch.softmax(torch.from_numpy(np.log(p)) / t, 1).numpy() for k, p in probs.items()}
    np.testing.assert_allclose(torch_rec.classify(crops), probs_t["views"], atol=1e-5)
    np.testing.assert_allclose(EmotionRecognizer(backend="onnx").classify(crops), probs_t["views"], atol=1e-4)
    np.testing.assert_allclose(EmotionRecognizer(tta="flip", backend="torch").classify(crops), probs_t["flip"], atol=1e-5)
    np.testing.assert_allclose(EmotionRecognizer(tta=False, backend="torch").classify(crops), probs_t["none"], atol=1e-5)
    # The views change some predictions: they are not the single pass under another name.
    assert (probs["views"].argmax(1) != probs["none"].argmax(1)).any()


def test_modes_are_checked() -> None:
    assert check_mode(True) == "views" and check_mode(False) == "none" and check_mode("flip") == "flip"
    with pytest.raises(FerxError, match="unknown test-time augmentation 'mirror'"):
        EmotionRecognizer(tta="mirror", backend="torch")


def test_cli_tta_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import cv2

    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (48, 1)))
    out = {}
    for args in ([], ["--tta", "cross"], ["--tta", "flip"], ["--no-tta"]):
        json_path = tmp_path / f"{len(out)}.json"
        assert main(["predict", str(face), "--no-detect", "--json", str(json_path), *args]) == 0
        out[" ".join(args)] = json_path.read_text()
    assert len(set(out.values())) == 4  # four paths, four sets of scores
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(face), "--tta", "mirror"])
    assert exc.value.code == 2 and "invalid choice: 'mirror'" in capsys.readouterr().err


def test_view_stack_rows_are_the_named_views() -> None:
    """Each row of the stack is one named view (VIEWS), the mean of that view's inputs: no positional bookkeeping."""
    from ferx.inference.views import MODES, SHIFTS, VIEWS, shift, view_stack, zoom

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7)).eval()
    x = torch.rand(3, 1, 48, 48)
    mirror = x.flip(3)
    expected = {
        "face": net(x), "mirror": net(mirror),
        "shifted face": torch.stack([net(shift(x, dx, dy)) for dx, dy in SHIFTS]).mean(0),
        "shifted mirror": torch.stack([net(shift(mirror, dx, dy)) for dx, dy in SHIFTS]).mean(0),
        "zoomed face": net(zoom(x)), "zoomed mirror": net(zoom(mirror)),
    }
    assert MODES["views"] == VIEWS and set(VIEWS) == set(expected)
    for mode, views in MODES.items():
        stack = view_stack(net, x, mode)
        assert len(stack) == len(views)
        for row, name in zip(stack, views):
            torch.testing.assert_close(row, expected[name].detach(), atol=1e-5, rtol=0)
