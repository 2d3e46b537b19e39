"""Distillation: the teacher's cached view-averaged logits or online labels, the loss, and the term in every step."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch

from ferx.data.fer2013 import load_dataset, load_train_test
from ferx.errors import FerxError
from ferx.inference.views import predict_views
from ferx.training import distill
from ferx.training.distill import distill_loss, soft_targets, teacher_logits
from ferx.weights import load_pretrained, pretrained_path


def test_distill_loss_is_the_scaled_kl_and_zero_on_agreement() -> None:
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    q = soft_targets(teacher, 3.0)
    log_p = torch.log_softmax(student / 3.0, 1)
    by_hand = (q * (q.log() - log_p)).sum(1).mean() * 9.0
    assert torch.allclose(distill_loss(student, q, 3.0), by_hand, atol=1e-6)
    assert distill_loss(teacher, q, 3.0).abs() < 1e-6
    assert torch.allclose(q.sum(1), torch.ones(5)) and q.max() < torch.softmax(teacher, 1).max()  # softened


def test_teacher_logits_are_the_views_mean_and_cached(fer_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FERX_CACHE", str(tmp_path))
    faces = load_train_test(fer_root)["test"].images[:64]
    got = teacher_logits([pretrained_path()], faces, "flip")
    expected = predict_views(load_pretrained(), faces, "flip").mean(0)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    assert len(list(tmp_path.glob("teacher-*.npy"))) == 1

    def no_run(*args, **kwargs):
        raise AssertionError("the teacher ran again instead of the cache")

    monkeypatch.setattr(distill, "predict_views", no_run)
    torch.testing.assert_close(teacher_logits([pretrained_path()], faces, "flip"), got)
    with pytest.raises(FerxError, match="no such teacher weights file"):
        teacher_logits([tmp_path / "missing.pt"], faces)


def _write_teacher_cache(barrier, faces) -> None:
    """A training's teacher_logits, holding at `barrier` between writing its temporary file and renaming it."""
    save = np.save

    def save_then_wait(*args, **kwargs) -> None:
        save(*args, **kwargs)
        barrier.wait()  # both temporary files are written before either is renamed

    distill.np.save = save_then_wait  # this process's own numpy: a spawned child
    teacher_logits([pretrained_path()], faces, "flip")


def test_two_runs_started_together_both_write_the_teacher_cache(fer_root: Path, tmp_path: Path, monkeypatch) -> None:
    """Two trainings of one teacher (revision 22's two seeds) write one cache file; the second rename must not fail."""
    monkeypatch.setenv("FERX_CACHE", str(tmp_path))
    faces = load_train_test(fer_root)["test"].images[:16]
    ctx = multiprocessing.get_context("spawn")  # not fork: torch's and onnxruntime's thread pools hang a forked child
    barrier = ctx.Barrier(2, timeout=120)
    procs = [ctx.Process(target=_write_teacher_cache, args=(barrier, faces)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0]
    digest = distill._digest([str(pretrained_path())], faces, "flip")
    assert [f.name for f in tmp_path.glob("*teacher*")] == [f"teacher-{digest}.npy"]


def test_every_training_step_learns_from_the_teacher(small_dataset: Path, tmp_path: Path, monkeypatch) -> None:
    import ferx.training.train as training

    monkeypatch.setenv("FERX_CACHE", str(tmp_path / "cache"))
    seen: list[torch.Tensor] = []

    def spy(student, target_probs, temperature):
        seen.append(target_probs.detach().clone())
        return distill_loss(student, target_probs, temperature)

    monkeypatch.setattr(training, "distill_loss", spy)
    cfg = training.TrainConfig(data=str(small_dataset), out=str(tmp_path / "out"), epochs=1, batch_size=16, bf16=False,
                               teachers=[str(pretrained_path())], teacher_views="none", distill_temperature=2.0)
    training.train(cfg)
    train = load_dataset(cfg.data, cfg.val_fraction, cfg.seed)["train"]
    assert len(seen) == -(-len(train) // cfg.batch_size)  # every step, and validation never
    # The targets are the teacher's own probabilities at T for the step's faces, in the epoch's order.
    all_targets = soft_targets(predict_views(load_pretrained(), train.images, "none")[0], 2.0)
    rows = torch.cat(seen)
    assert rows.shape == all_targets.shape
    nearest = torch.cdist(rows.double(), all_targets.double()).min(1)
    assert float(nearest.values.max()) < 1e-3  # every target row is a training face's teacher probabilities
    assert len(set(nearest.indices.tolist())) > 0.9 * len(train)  # drawn over the epoch's faces, not one face


def test_online_teacher_labels_the_very_batch_the_student_trains_on(small_dataset: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    import ferx.training.train as training

    monkeypatch.setenv("FERX_CACHE", str(tmp_path / "cache"))
    taught, trained, targets = [], [], []
    teach, step = distill.OnlineTeacher.__call__, training.train_step
    monkeypatch.setattr(distill.OnlineTeacher, "__call__", lambda self, x: taught.append(x.clone()) or teach(self, x))
    monkeypatch.setattr(training, "train_step", lambda m, o, x, *a, **k: trained.append(x.clone()) or step(m, o, x, *a, **k))
    monkeypatch.setattr(training, "distill_loss", lambda s, q, t: targets.append(q.detach().clone()) or distill_loss(s, q, t))
    cfg = training.TrainConfig(data=str(small_dataset), out=str(tmp_path / "out"), epochs=1, batch_size=16,
                               teachers=[str(pretrained_path())], teacher_online=True, distill_temperature=2.0)
    training.train(cfg)
    assert len(taught) == len(trained) == len(targets) > 1
    teacher = load_pretrained()
    for x, y, q in zip(taught, trained, targets):
        assert torch.equal(x, y)  # the augmented batch itself, not the plain faces
        torch.testing.assert_close(q, soft_targets(teacher(x.contiguous()), 2.0), atol=1e-4, rtol=0)
    assert not list((tmp_path / "cache").glob("teacher-*.npy"))  # nothing cached: every batch is new


@pytest.mark.parametrize("flags, onnx", [({"avx2"}, True), ({"avx2", "avx512bw"}, False), (None, False)])
def test_online_teacher_runs_onnxruntime_where_it_is_faster(monkeypatch, flags, onnx: bool) -> None:
    from ferx.inference.runtime import OnnxModel

    monkeypatch.setattr(distill, "cpu_flags", lambda: None if flags is None else frozenset(flags))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # one thread each when two seeds train side by side
    teacher = distill.OnlineTeacher([pretrained_path()], torch.device("cpu"), channels_last=True)
    (net,) = teacher.nets
    assert isinstance(net, OnnxModel) == onnx
    if onnx:
        assert net.session.get_session_options().intra_op_num_threads == 1
    x = torch.rand(111, 1, 48, 48).contiguous(memory_format=torch.channels_last)  # an odd last batch
    torch.testing.assert_close(teacher(x), load_pretrained()(x.contiguous()), atol=1e-4, rtol=0)


@pytest.mark.parametrize("online", [False, True])
def test_a_teacher_of_other_classes_is_a_one_line_error(small_dataset: Path, tmp_path: Path, monkeypatch,
                                                        online: bool) -> None:
    import ferx.training.train as training
    from ferx.weights import ModelCard, save_packaged

    monkeypatch.setenv("FERX_CACHE", str(tmp_path / "cache"))
    card = ModelCard("custom", {"num_classes": 6, "stem_widths": [8, 16], "widths": [16, 32], "depth": 1},
                     ["anger", "disgust", "fear", "joy", "sadness", "surprise"])
    save_packaged(card.build().state_dict(), card, {}, tmp_path / "six.pt")
    cfg = training.TrainConfig(data=str(small_dataset), out=str(tmp_path / "out"), epochs=1, batch_size=16,
                               teachers=[str(tmp_path / "six.pt")], teacher_online=online, teacher_views="none")
    with pytest.raises(FerxError, match="teachers give 6 classes, the data set has 7"):
        training.train(cfg)
