"""Health guards of every fit: dead features, a loss no better than the constant predictor,
and the per-sample feature penalty's relation to the UFM objective."""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_mlabnc import MLabNCClassifier, OneVsAllLoss, PickAllLabelLoss
from sklearn_mlabnc._health import DEAD_FEATURE_RATIO, FeatureHealth, constant_loss
from sklearn_mlabnc._training import PenalizedLoss
from sklearn_mlabnc.datasets import make_multilabel_digits
from sklearn_mlabnc.ufm._objective import set_objective, set_targets


@pytest.fixture(scope="module")
def digits():
    data = make_multilabel_digits(subset="train", random_state=0)
    return data.data[:600].astype(np.float32), data.target[:600]


def _fit(X, Y, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = MLabNCClassifier(random_state=0, device="cpu", **params).fit(X, Y)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return clf, messages


def test_dead_features_warn_with_cause_and_fix(digits):
    # A strong feature penalty with SGD at lr 0.1 drives the ReLU features to exactly 0.
    X, Y = digits
    clf, messages = _fit(
        X,
        Y,
        hidden_layer_sizes=(64, 64),
        optimizer="sgd",
        lr=0.1,
        feature_decay=0.5,
        dropout=0.0,
        max_epochs=4,
    )
    dead = [m for m in messages if "features died" in m]
    assert len(dead) == 1  # once per fit, not once per epoch
    assert "feature_decay=0.5" in dead[0] and "lower" in dead[0].lower()
    norms = [row["feature_sq_norm"] for row in clf.history_]
    assert norms[-1] <= DEAD_FEATURE_RATIO * norms[0] or norms[-1] == 0.0


def test_large_adam_learning_rate_warns_naming_lr(digits):
    X, Y = digits
    clf, messages = _fit(X, Y, hidden_layer_sizes=(32,), lr=1e6, max_epochs=3)
    loss = [m for m in messages if "constant predictor" in m]
    assert len(loss) == 1 and "lr=1e+06" in loss[0]
    uniform = Y.sum(axis=1).mean() * math.log(Y.shape[1])  # PAL: mean|S| log K
    assert clf.history_[-1]["train_loss"] >= uniform


def test_defaults_do_not_warn(digits):
    X, Y = digits
    clf, messages = _fit(X, Y, hidden_layer_sizes=(32,), max_epochs=3)
    assert messages == []
    assert all(row["feature_sq_norm"] > 0 for row in clf.history_)


def test_a_single_partial_fit_epoch_is_not_judged(digits):
    X, Y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLabNCClassifier(hidden_layer_sizes=(8,), lr=1e6, random_state=0).partial_fit(X, Y)


@pytest.mark.parametrize(
    "base, expected",
    [
        (PickAllLabelLoss(), lambda T: T.sum(1).mean() * math.log(T.shape[1])),
        (PickAllLabelLoss(normalize=True), lambda T: math.log(T.shape[1])),
        (OneVsAllLoss(), lambda T: T.shape[1] * math.log(2)),
    ],
)
def test_constant_loss_formulas(base, expected):
    T = torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]])
    net = type("Net", (), {"criterion_": PenalizedLoss(base, 0.1)})()
    assert constant_loss(net, T) == pytest.approx(expected(T.numpy()), rel=1e-6)


def test_feature_health_reference_is_the_first_batch_and_dead_is_relative():
    health = FeatureHealth()
    health.add(torch.full((2, 3), 2.0))  # mean ||h||^2 = 12
    health.add(torch.full((2, 3), 1e-4))
    _, sq, largest = health.epoch_values(torch.tensor(1.0))
    assert health.reference_value == pytest.approx(12.0)
    assert sq == pytest.approx(24 + 6e-8) and largest == pytest.approx(2.0)
    assert not health.dead(sq / 4, largest)
    assert health.dead(1e-6 * 12.0, 1e-3)  # at the ratio
    assert health.dead(1.0, 0.0)  # exactly zero features
    assert not health.dead(float("nan"), float("nan"))


def test_penalty_is_batch_size_independent_and_matches_the_ufm():
    """Per-sample penalty: a full-batch loss equals the UFM objective with
    lambda_H = 2 feature_decay / N and lambda_W = weight_decay (W's term added by hand)."""
    rng = np.random.default_rng(0)
    K, d, N, decay, lam_w = 3, 4, 6, 0.03, 5e-3
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], float)
    W, H, b = rng.normal(size=(K, d)), rng.normal(size=(N, d)), rng.normal(size=K)
    loss = PenalizedLoss(PickAllLabelLoss(), decay)
    Z = torch.as_tensor(H @ W.T + b)
    full = float(loss((Z, torch.as_tensor(H)), torch.as_tensor(Y)))
    halves = [
        float(loss((Z[i : i + 3], torch.as_tensor(H[i : i + 3])), torch.as_tensor(Y[i : i + 3])))
        for i in (0, 3)
    ]
    assert full == pytest.approx(np.mean(halves))  # same value whatever the batch size
    theta = np.concatenate([W.ravel(), H.ravel(), b])
    ufm = set_objective(
        theta,
        set_targets(Y, "pal"),
        np.full(N, 1 / N),
        np.ones(N),
        K,
        d,
        "pal",
        lam_w,
        2 * decay / N,
        0.0,
    )
    ufm = ufm[0] if isinstance(ufm, tuple) else ufm
    assert full + lam_w / 2 * (W**2).sum() == pytest.approx(ufm, rel=1e-10)
