import pytest
import torch

from ferx import MiniXception
from ferx.model import MODEL_CONFIGS


@pytest.mark.parametrize("name", sorted(MODEL_CONFIGS))
@pytest.mark.parametrize("batch", [1, 111, 127])
def test_forward_backward(name: str, batch: int) -> None:
    model = MiniXception(num_classes=7, **MODEL_CONFIGS[name])
    x = torch.rand(batch, 1, 48, 48, requires_grad=True)
    out = model(x)
    assert out.shape == (batch, 7)
    assert torch.isfinite(out).all()
    if batch > 1:  # batch norm needs more than one value per channel in train mode
        out.sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_parameter_counts() -> None:
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(MiniXception()) == 770_599  # the shipped model: under the 1M budget of issue 3
    # The paper's layout with 7 outputs. Keras counts 58,423 for it because it also counts batch norm's
    # running mean and variance; PyTorch keeps those as buffers.
    assert count(MiniXception(**MODEL_CONFIGS["original"])) == 56_951


def test_features_and_head_compose() -> None:
    model = MiniXception().eval()
    x = torch.rand(4, 1, 48, 48)
    feats = model.forward_features(x)
    assert feats.shape == (4, 512, 2, 2)
    torch.testing.assert_close(model.forward_head(feats), model(x))


def test_normalisation_travels_with_the_state_dict() -> None:
    state = MiniXception().state_dict()
    assert {"mean", "std"} <= set(state)
