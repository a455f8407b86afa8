"""Tests of the image backbones (SmallCNN, ResNet18) alone and as the estimator's module."""

from functools import partial

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from sklearn_mlabnc import MLabNCClassifier, MLabNCNetwork
from sklearn_mlabnc.backbones import MLP, BasicBlock, ResNet18, SmallCNN
from sklearn_mlabnc.datasets import make_multilabel_digits

DIGITS_CNN = partial(SmallCNN, input_shape=(1, 16, 16), channels=(8, 16))
DIGITS_RESNET = partial(ResNet18, input_shape=(1, 16, 16), width=4)
CIFAR_RESNET18_PARAMS = 11_173_962  # standard CIFAR ResNet-18 with a 512 -> 10 linear head


def _n_params(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _n_trainable(clf: MLabNCClassifier) -> int:
    return _n_params(clf.net_.module_, trainable_only=True)


@pytest.fixture(scope="module")
def digits():
    # 10 singletons x 10 + 45 pairs x 2 = 190 flat 16x16 canvases, K = 10 labels.
    return make_multilabel_digits(n_per_singleton=10, n_per_set=2, return_X_y=True, random_state=0)


# ---------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    "make, n_inputs, width",
    [
        (partial(SmallCNN, channels=(8, 16)), 256, 16),
        (partial(SmallCNN, channels=(8,), n_outputs=5), 256, 5),
        (partial(SmallCNN, input_shape=(3, 8, 8), channels=(4, 4, 4, 6)), 192, 6),
        (partial(SmallCNN, channels=(8,), batch_norm=False), 256, 8),
        (partial(ResNet18, width=4), 3 * 32 * 32, 32),
        (partial(ResNet18, width=4, n_outputs=10), 3 * 32 * 32, 10),
        (partial(ResNet18, input_shape=(1, 16, 16), width=2, n_outputs=3), 256, 3),
    ],
)
def test_flat_input_output_shape(make, n_inputs, width):
    torch.manual_seed(0)
    net = make(n_inputs)
    assert net.n_outputs == width
    out = net(torch.randn(3, n_inputs))
    assert out.shape == (3, width)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "make, n_inputs",
    [
        (partial(SmallCNN, input_shape=(2, 6, 5), channels=(4,)), 60),
        (partial(ResNet18, input_shape=(3, 8, 8), width=2), 192),
    ],
)
def test_flat_and_image_inputs_agree(make, n_inputs):
    # The flat row is the C-order flattening of the (channels, height, width) image.
    torch.manual_seed(0)
    net = make(n_inputs).eval()
    images = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(net(images.flatten(1)), net(images))


def test_small_cnn_without_batch_norm_uses_conv_bias():
    convs = [m for m in SmallCNN(256, channels=(4, 4), batch_norm=False).modules()]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in convs)
    assert all(m.bias is not None for m in convs if isinstance(m, nn.Conv2d))
    assert all(m.bias is None for m in SmallCNN(256).modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize(
    "make, n_inputs, match",
    [
        (SmallCNN, 100, r"n_inputs=100 does not match input_shape=\(1, 16, 16\)"),
        (ResNet18, 256, r"n_inputs=256 does not match input_shape=\(3, 32, 32\)"),
        (partial(SmallCNN, input_shape=(16, 16)), 256, "three positive ints"),
        (partial(ResNet18, input_shape=(1, 0, 16)), 0, "three positive ints"),
        (partial(SmallCNN, channels=()), 256, "at least one conv block"),
        (partial(ResNet18, width=0), 3072, "width must be a positive int"),
    ],
)
def test_bad_construction_raises(make, n_inputs, match):
    with pytest.raises(ValueError, match=match):
        make(n_inputs)


@pytest.mark.parametrize(
    "net", [SmallCNN(256, channels=(4,)), ResNet18(256, (1, 16, 16), width=2)]
)
def test_wrong_input_width_in_forward_raises(net):
    with pytest.raises(
        ValueError, match=r"expects inputs of shape \(batch, 256\).*got \(2, 255\)"
    ):
        net(torch.randn(2, 255))


def test_estimator_reports_input_shape_mismatch(digits):
    X, Y = digits
    clf = MLabNCClassifier(module=partial(ResNet18, width=2), max_epochs=1)  # (3, 32, 32)
    with pytest.raises(ValueError, match="n_inputs=256 does not match input_shape"):
        clf.fit(X, Y)


# ------------------------------------------------------------------ ResNet-18 structure


def test_resnet18_has_eight_basic_blocks_and_cifar_stem():
    net = ResNet18(3072, width=4)
    blocks = [m for m in net.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    assert [len(stage) for stage in (net.layer1, net.layer2, net.layer3, net.layer4)] == [2] * 4
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    stem_conv = net.stem[0]
    assert (stem_conv.kernel_size, stem_conv.stride) == ((3, 3), (1, 1))
    first_strides = [
        stage[0].conv1.stride for stage in (net.layer1, net.layer2, net.layer3, net.layer4)
    ]
    assert first_strides == [(1, 1), (2, 2), (2, 2), (2, 2)]
    assert [b.conv2.out_channels for b in blocks] == [4, 4, 8, 8, 16, 16, 32, 32]


@pytest.mark.parametrize("n_outputs, last_channels", [(None, 32), (10, 10)])
def test_resnet18_spatial_sizes(n_outputs, last_channels):
    net = ResNet18(3072, width=4, n_outputs=n_outputs)
    shapes = {}
    for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
        getattr(net, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
    assert net(torch.randn(2, 3072)).shape == (2, last_channels)
    assert shapes == {
        "stem": (4, 32, 32),
        "layer1": (4, 32, 32),
        "layer2": (8, 16, 16),
        "layer3": (16, 8, 8),
        "layer4": (last_channels, 4, 4),
    }


def test_resnet18_standard_parameter_count():
    backbone = ResNet18(3 * 32 * 32)
    assert backbone.n_outputs == 512
    assert _n_params(backbone) + _n_params(nn.Linear(512, 10)) == CIFAR_RESNET18_PARAMS


def test_resnet18_etf_with_d_equal_k_has_about_20_percent_fewer_parameters():
    # d = K narrows only the last block's output (conv2 512 -> 10, 1x1 projection shortcut).
    backbone = ResNet18(3 * 32 * 32, n_outputs=10)
    assert _n_params(backbone) == 8_859_752
    model = MLabNCNetwork(backbone, n_outputs=10, head="etf", n_backbone_outputs=10)
    n_trainable = _n_params(model, trainable_only=True)
    assert n_trainable == 8_859_752 + 10  # the ETF is fixed; only its bias trains
    assert 0.2 < 1 - n_trainable / CIFAR_RESNET18_PARAMS < 0.22


def test_basic_block_projection_shortcut_only_when_needed():
    assert isinstance(BasicBlock(4, 4).shortcut, nn.Identity)
    assert isinstance(BasicBlock(4, 8).shortcut, nn.Sequential)
    assert isinstance(BasicBlock(4, 4, stride=2).shortcut, nn.Sequential)
    block = BasicBlock(8, 3, hidden_channels=8)
    assert (block.conv1.out_channels, block.conv2.out_channels) == (8, 3)


# ------------------------------------------------------------------ inside the estimator


@pytest.mark.parametrize(
    "params, d",
    [({"head": "linear"}, 16), ({"head": "etf", "feature_dim": "n_classes"}, 10)],
)
def test_small_cnn_in_estimator(digits, params, d):
    X, Y = digits
    clf = MLabNCClassifier(
        module=DIGITS_CNN, max_epochs=2, batch_size=64, random_state=0, **params
    ).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert clf.predict_proba(X[:5]).shape == (5, 10)
    features = clf.transform(X)
    assert features.shape == (X.shape[0], d)
    assert np.isfinite(features).all()


def test_spec_example_module_fits(digits):
    # The documented form: the default channels (32, 64), bound with functools.partial.
    X, Y = digits
    clf = MLabNCClassifier(
        module=partial(SmallCNN, input_shape=(1, 16, 16)),
        max_epochs=2,
        batch_size=64,
        random_state=0,
    ).fit(X, Y)
    assert clf.transform(X[:4]).shape == (4, 64)


@pytest.mark.parametrize(
    "module, d",
    [
        (SmallCNN(256, channels=(8, 16)), 16),
        (ResNet18(256, (1, 16, 16), n_outputs=10, width=2), 10),
    ],
)
def test_instance_module_is_copied(digits, module, d):
    X, Y = digits
    before = [p.detach().clone() for p in module.parameters()]
    clf = MLabNCClassifier(module=module, max_epochs=1, batch_size=64, random_state=0).fit(X, Y)
    assert clf.transform(X[:3]).shape == (3, d)
    assert clf.net_.module_.backbone is not module
    for old, new in zip(before, module.parameters(), strict=True):
        torch.testing.assert_close(old, new)  # the user's instance is left untouched


def test_small_cnn_parameter_counts_of_etf_and_d_equal_k(digits):
    X, Y = digits
    K, d = 10, 16
    fit = partial(MLabNCClassifier, max_epochs=1, batch_size=64, random_state=0)
    linear = fit(module=DIGITS_CNN, head="linear").fit(X, Y)
    etf = fit(module=DIGITS_CNN, head="etf").fit(X, Y)
    etf_projected = fit(module=DIGITS_CNN, head="etf", feature_dim="n_classes").fit(X, Y)
    etf_narrow = fit(module=partial(SmallCNN, channels=(8, K)), head="etf").fit(X, Y)

    n_backbone = _n_params(SmallCNN(256, channels=(8, d)))
    assert _n_trainable(linear) == n_backbone + (d + 1) * K
    assert _n_trainable(etf) == n_backbone + K  # fixed ETF: only the bias trains
    # For a user module feature_dim="n_classes" appends a learned d -> K projection, which
    # costs as much as the learned head it replaces: no saving for a backbone this small.
    assert _n_trainable(etf_projected) == _n_trainable(linear) + K
    # d = K realised inside the backbone (narrow last conv block) does save parameters.
    assert etf_narrow.transform(X[:2]).shape == (2, K)
    assert _n_trainable(etf_narrow) < _n_trainable(etf) < _n_trainable(linear)


def test_resnet18_etf_with_d_equal_k_in_estimator_trains_fewer_parameters(digits):
    X, Y = digits
    K = Y.shape[1]
    fit = partial(MLabNCClassifier, max_epochs=2, batch_size=64, random_state=0)
    linear = fit(module=DIGITS_RESNET, head="linear").fit(X, Y)
    efficient = fit(module=partial(DIGITS_RESNET, n_outputs=K), head="etf").fit(X, Y)
    assert linear.transform(X[:2]).shape == (2, 32)
    assert efficient.transform(X[:2]).shape == (2, K)
    assert efficient.predict(X).shape == Y.shape
    assert _n_trainable(efficient) < _n_trainable(linear)
    # Same saving as the standalone backbone count: narrow last block + no learned head.
    saved = _n_params(DIGITS_RESNET(256)) - _n_params(DIGITS_RESNET(256, n_outputs=K))
    assert _n_trainable(linear) - _n_trainable(efficient) == saved + 32 * K


def test_grid_search_over_head_in_pipeline(digits):
    X, Y = digits
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            (
                "clf",
                MLabNCClassifier(module=DIGITS_CNN, max_epochs=1, batch_size=64, random_state=0),
            ),
        ]
    )
    search = GridSearchCV(pipe, {"clf__head": ["linear", "etf"]}, cv=2).fit(X, Y)
    assert search.best_params_["clf__head"] in ("linear", "etf")
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(X[:7]).shape == (7, Y.shape[1])
    assert search.best_estimator_["clf"].transform(X[:3]).shape[0] == 3


def test_mlp_linear_feature_layer_has_nothing_after_the_last_linear():
    torch.manual_seed(0)
    mlp = MLP(12, hidden_layer_sizes=(16, 16), n_outputs=8, dropout=0.3, feature_layer="linear")
    kinds = [type(layer).__name__ for layer in mlp.layers]
    assert kinds[-1] == "Linear" and kinds.count("Linear") == 3
    assert kinds.count("ReLU") == 2 and kinds.count("Dropout") == 2
    assert mlp.n_outputs == 8
    mlp.eval()
    X = torch.randn(64, 12)
    features = mlp(X)
    # exactly the last linear layer applied to the penultimate block's output
    assert torch.allclose(features, mlp.layers[-1](mlp.layers[:-1](X)))
    assert (features < 0).any()  # no ReLU: features of any sign
    # without n_outputs the last hidden width is the plain linear feature layer
    last = MLP(12, hidden_layer_sizes=(16, 5), feature_layer="linear")
    assert type(last.layers[-1]).__name__ == "Linear" and last.n_outputs == 5


def test_mlp_rejects_an_unknown_feature_layer():
    with pytest.raises(ValueError, match="feature_layer must be 'hidden' or 'linear'"):
        MLP(4, feature_layer="relu")


def test_linear_feature_layer_in_the_estimator_with_a_fixed_etf(digits):
    X, Y = digits
    module = partial(MLP, hidden_layer_sizes=(32,), feature_layer="linear")
    clf = MLabNCClassifier(module, head="etf", feature_dim="n_classes", max_epochs=2)
    clf.fit(X, Y)
    H = clf.transform(X)
    assert H.shape == (len(X), Y.shape[1]) and (H < 0).any()
