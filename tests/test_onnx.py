"""ONNX export and the onnxruntime backends: float gives PyTorch's answers, int8 its accuracy, on the whole test split."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
import torch

from ferx import EmotionRecognizer, FerxError, load_pretrained
from ferx.cli import main
from ferx.data.fer2013 import load_train_test
from ferx.inference.faces import centerface
from ferx.inference.runtime import OnnxModel
from ferx.inference.views import predict_views, view_stack
from ferx.model import to_input
from ferx.weights import pretrained_path


def test_cli_export_has_a_dynamic_batch_axis(tmp_path: Path, capsys) -> None:
    path = tmp_path / "model.onnx"
    assert main(["export", "--onnx", str(path)]) == 0
    graph = onnx.load(str(path)).graph
    assert graph.input[0].name == "pixels" and graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = torch.rand(5, 1, 48, 48)
    with torch.no_grad():
        expected = load_pretrained()(x)
    torch.testing.assert_close(OnnxModel(path)(x), expected, atol=1e-4, rtol=0)


def test_packaged_onnx_matches_pytorch_on_the_test_split(fer_root: Path) -> None:
    crops = load_train_test(fer_root)["test"].images
    torch_rec, onnx_rec = EmotionRecognizer(tta=False, backend="torch"), EmotionRecognizer(tta=False, backend="onnx")
    assert pretrained_path().with_suffix(".onnx").exists()
    # logits of all 7,178 faces; PyTorch's from a channels-last copy, called directly (predict_views would hand a
    # job this long to onnxruntime)
    net = copy.deepcopy(torch_rec.model).to(memory_format=torch.channels_last)
    torch_logits = torch.cat([view_stack(net, to_input(crops[i : i + 512]), "none")[0] for i in range(0, len(crops), 512)])
    onnx_logits = predict_views(onnx_rec.model, crops, "none")[0]
    np.testing.assert_allclose(onnx_logits.numpy(), torch_logits.numpy(), atol=1e-4, rtol=0)
    p_torch, p_onnx = torch_rec.classify(crops[:1024]), onnx_rec.classify(crops[:1024])  # the recognizers' own path
    assert np.abs(p_onnx - p_torch).max() < 1e-4
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).mean() >= 0.999


def _ops(path: Path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_packaged_int8_model_keeps_the_accuracy_of_the_float_model(fer_root: Path) -> None:
    test = load_train_test(fer_root)["test"]
    path = pretrained_path().with_suffix(".int8.onnx")
    assert "QuantizeLinear" in _ops(path) and path.stat().st_size < 0.4 * pretrained_path().stat().st_size
    for tta in ("none", "flip"):  # all 7,178 faces; the six views are 6x the time and test_pretrained runs them
        p_float = EmotionRecognizer(tta=tta, backend="onnx").classify(test.images)
        p_int8 = EmotionRecognizer(tta=tta, backend="int8").classify(test.images)
        acc_float, acc_int8 = (p_float.argmax(1) == test.labels).mean(), (p_int8.argmax(1) == test.labels).mean()
        assert abs(acc_int8 - acc_float) <= 0.004, (tta, acc_float, acc_int8)
        assert (p_int8.argmax(1) == p_float.argmax(1)).mean() >= 0.97
        assert np.abs(p_int8 - p_float).max() < 0.2


def test_cli_export_int8_calibrates_on_training_faces(tmp_path: Path, fer_root: Path) -> None:
    path = tmp_path / "model.int8.onnx"
    assert main(["export", "--onnx", str(path), "--int8", "--data", str(fer_root), "--calibration", "256"]) == 0
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(path)
    assert int8_weight_range(path) == (-64, 64)
    assert not list(tmp_path.glob(".*tmp*"))
    crops = load_train_test(fer_root)["test"].images[:512]
    p_int8 = EmotionRecognizer(path, tta=False, backend="int8").classify(crops)
    p_float = EmotionRecognizer(tta=False, backend="onnx").classify(crops)
    assert (p_int8.argmax(1) == p_float.argmax(1)).mean() >= 0.95


def int8_weight_range(path: Path) -> tuple[int, int]:
    """The smallest and largest value of an ONNX file's int8 initializers (its quantised weights)."""
    weights = [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
               if t.data_type == onnx.TensorProto.INT8]
    return int(min(w.min() for w in weights)), int(max(w.max() for w in weights))


def test_packaged_int8_classifier_uses_seven_bit_weights() -> None:
    """7-bit weights cannot overflow the int16 sums of CPUs without VNNI, so the int8 classifier needs no slow exact
    mode there (benchmarks/int8_overflow.py); a VNNI machine's accuracy test cannot see the difference."""
    assert int8_weight_range(pretrained_path().with_suffix(".int8.onnx")) == (-64, 64)
    # CenterFace keeps 8-bit weights (7 bits cost it 3 scene faces); CPUs without VNNI run it in exact arithmetic
    assert int8_weight_range(Path(centerface.__file__).parent / "models" / "centerface.int8.onnx") == (-127, 127)


def test_onnx_backends_name_a_bad_model_file(tmp_path: Path) -> None:
    missing, not_onnx = tmp_path / "missing.onnx", tmp_path / "weights.onnx"
    not_onnx.write_bytes(b"not a model")
    for path, problem in ((missing, "no such ONNX model file"), (not_onnx, "not an ONNX model")):
        for backend in ("onnx", "int8"):
            with pytest.raises(FerxError, match=f"{path.name}: {problem}"):
                EmotionRecognizer(path, backend=backend)


def test_onnx_workers_stop_spinning_when_a_run_returns() -> None:
    """Workers spin during a run (faster on 2 cores) but not after it, where they would hold the next stage's core."""
    import time

    model = OnnxModel(pretrained_path().with_suffix(".onnx"), threads=2)
    faces = torch.rand(64, 1, 48, 48)
    model(faces)
    cpu = time.process_time()
    time.sleep(0.05)
    # a worker left spinning burns its core for about 35 ms here before it parks; stopped, the idle costs ~0.1 ms
    assert time.process_time() - cpu < 0.01


def test_serving_turns_spinning_off_for_the_sessions_it_makes() -> None:
    from ferx.inference.runtime import session_options, spin_during_runs

    assert session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"
    spin_during_runs(False)  # what `ferx serve` does before it builds its recognizer
    try:
        opts = session_options(2)
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert opts.intra_op_num_threads == 2
    finally:
        spin_during_runs(True)


def test_pt_weights_run_on_onnxruntime_exported_once_per_content(fer_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FERX_CACHE", str(tmp_path / "cache"))
    crops = load_train_test(fer_root)["test"].images[:512]
    mine = tmp_path / "mine.pt"
    mine.write_bytes(pretrained_path().read_bytes())  # a user's own .pt weights (a run's best_model.pt)
    rec = EmotionRecognizer(mine, tta="cross")
    assert rec.backend == "onnx" and isinstance(rec.model, OnnxModel)
    (exported,) = (tmp_path / "cache").glob("onnx-*.onnx")
    p_torch = EmotionRecognizer(mine, tta="cross", backend="torch").classify(crops)
    assert np.abs(rec.classify(crops) - p_torch).max() < 1e-4
    stamp = exported.stat().st_mtime_ns
    EmotionRecognizer(mine, tta="none")
    assert exported.stat().st_mtime_ns == stamp  # the second recognizer loaded the cached export
    net = rec.torch_model()
    assert isinstance(net, torch.nn.Module)  # explanations still read the .pt file
    with torch.no_grad():
        next(net.parameters()).view(-1)[0] += 1.0
    torch.save(net.state_dict(), mine)
    EmotionRecognizer(mine)
    assert len(list((tmp_path / "cache").glob("onnx-*.onnx"))) == 2  # new content, new export


def test_pt_weights_export_to_the_temporary_folder_when_the_cache_cannot_be_written(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("FERX_CACHE", str(blocker / "cache"))  # under a file: the folder cannot be made
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    rec = EmotionRecognizer(pretrained_path(), tta="none")
    assert rec.backend == "onnx" and len(list((tmp_path / "tmp" / "ferx").glob("onnx-*.onnx"))) == 1
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))  # nowhere to write: one clear error
    with pytest.raises(FerxError, match="no writable folder for its ONNX copy"):
        EmotionRecognizer(pretrained_path())
