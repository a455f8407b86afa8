import pytest
import torch
from torch import nn

from sklearn_mlabnc import MLabNCNetwork
from sklearn_mlabnc.backbones import MLP


def test_mlp_shapes_and_width():
    net = MLP(7, (12, 9), n_outputs=4)
    assert net.n_outputs == 4
    assert net(torch.randn(3, 7)).shape == (3, 4)
    assert MLP(7, (12, 9)).n_outputs == 9
    with pytest.raises(ValueError, match="at least one"):
        MLP(7, ())


@pytest.mark.parametrize("head", ["linear", "etf"])
def test_network_returns_logits_and_features(head):
    net = MLabNCNetwork(MLP(5, (8,)), n_outputs=3, head=head, feature_dim=6, n_backbone_outputs=8)
    logits, features = net(torch.randn(4, 5))
    assert logits.shape == (4, 3) and features.shape == (4, 6)
    torch.testing.assert_close(logits, net.head(features))


def test_backbone_width_is_inferred_and_outputs_must_be_2d():
    backbone = nn.Sequential(nn.Linear(5, 11), nn.ReLU())
    net = MLabNCNetwork(backbone, n_outputs=2, example_input=torch.randn(2, 5))
    assert net.n_features == 11
    with pytest.raises(TypeError, match="2-D tensor"):
        MLabNCNetwork(nn.Unflatten(1, (5, 1)), n_outputs=2, example_input=torch.randn(2, 5))


def test_bfloat16_autocast_returns_float32():
    net = MLabNCNetwork(
        MLP(5, (8,)), n_outputs=3, n_backbone_outputs=8, autocast_dtype=torch.bfloat16
    )
    logits, features = net(torch.randn(4, 5))
    assert logits.dtype == torch.float32 and features.dtype == torch.float32


def test_autocast_applies_to_training_passes_only():
    torch.manual_seed(0)
    net = MLabNCNetwork(MLP(5, (64,), dropout=0.0), n_outputs=3, n_backbone_outputs=64)
    x = torch.randn(16, 5)
    train_exact = net(x)[0]  # float32 throughout
    exact = net.eval()(x)
    net.autocast_dtype = torch.bfloat16
    for got, want in zip(net(x), exact, strict=True):  # evaluation: float32, bit for bit
        assert torch.equal(got, want)
    logits, _ = net.train()(x)  # training: bfloat16 matrix products, ~3 significant digits
    assert not torch.equal(logits, train_exact)
    torch.testing.assert_close(logits, train_exact, rtol=5e-2, atol=5e-2)


def test_mlp_dropout_spares_the_feature_layer():
    net = MLP(5, (8, 8, 4), dropout=0.5)
    dropouts = [i for i, layer in enumerate(net.layers) if isinstance(layer, torch.nn.Dropout)]
    assert len(dropouts) == 2  # after the first two blocks, not after the features
    assert not isinstance(net.layers[-1], torch.nn.Dropout)
    net.eval()
    x = torch.randn(3, 5)
    torch.testing.assert_close(net(x), net(x))  # inactive at inference
    with pytest.raises(ValueError, match="dropout"):
        MLP(5, (8,), dropout=1.0)
