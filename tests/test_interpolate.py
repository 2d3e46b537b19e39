"""Weight-space interpolation (training/interpolate.py): endpoints exact, midpoints linear, bad pairs refused."""
from __future__ import annotations

import pytest
import torch

from ferx.errors import FerxError
from ferx.model import MiniXception, to_input
from ferx.training.interpolate import interpolate, interpolate_files
from ferx.weights import load_model, pretrained_path


def _nets() -> tuple[MiniXception, MiniXception]:
    torch.manual_seed(0)
    a, b = MiniXception(num_classes=7), MiniXception(num_classes=7)
    with torch.no_grad():  # distinct batch-norm statistics and step counts, as after two trainings
        for net, k in ((a, 3), (b, 11)):
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-1, 1)
                    m.running_var.uniform_(0.5, 2)
                    m.num_batches_tracked.fill_(k)
    return a.eval(), b.eval()


def test_endpoints_are_the_two_models_and_the_middle_is_the_mean() -> None:
    a, b = _nets()
    sa, sb = a.state_dict(), b.state_dict()
    for key in sa:
        if sa[key].is_floating_point():
            assert torch.equal(interpolate(sa, sb, 0.0)[key], sa[key])
            assert torch.equal(interpolate(sa, sb, 1.0)[key], sb[key])
            assert torch.allclose(interpolate(sa, sb, 0.5)[key], (sa[key] + sb[key]) / 2, atol=1e-6)
        else:  # step counts are not averaged
            assert int(interpolate(sa, sb, 0.3)[key]) == 11
    x = torch.rand(5, 1, 48, 48)
    a.load_state_dict(interpolate(sa, sb, 1.0))
    assert torch.equal(a(x), b(x))


def test_refuses_other_architectures_and_weights_outside_0_1() -> None:
    a, b = _nets()
    narrow = MiniXception(num_classes=7, widths=(32, 64, 128, 256)).state_dict()
    with pytest.raises(FerxError, match="shapes .* differ"):
        interpolate(a.state_dict(), narrow, 0.5)
    deeper = MiniXception(num_classes=7, depth=3).state_dict()
    with pytest.raises(FerxError, match="different layers"):
        interpolate(a.state_dict(), deeper, 0.5)
    with pytest.raises(FerxError, match=r"must be in \[0, 1\]"):
        interpolate(a.state_dict(), b.state_dict(), 1.5)


def test_interpolated_file_loads_with_the_seed_snippet_and_its_card(tmp_path) -> None:
    _, b = _nets()
    tuned = tmp_path / "tuned.pt"
    torch.save(b.state_dict(), tuned)
    out = tmp_path / "mix.pt"
    interpolate_files(pretrained_path(), tuned, 0.0, out)
    net = MiniXception(num_classes=7)
    net.load_state_dict(torch.load(out))  # the seed's snippet: a plain state_dict
    packaged, _ = load_model(pretrained_path())
    x = to_input(torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8).numpy())
    assert torch.allclose(net.eval()(x), packaged(x), atol=1e-6)  # alpha 0 is the start model itself
    assert load_model(out)[1].classes == load_model(pretrained_path())[1].classes
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left behind
