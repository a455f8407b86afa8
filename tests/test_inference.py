"""Streaming, batch-invariant inference (sklearn_mlabnc._inference)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.special import log_softmax, softmax
from sklearn.datasets import make_multilabel_classification

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc._inference import (
    chunk_size,
    decision_scores,
    probabilities,
    stream_outputs,
)
from sklearn_mlabnc.backbones import MLP


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        n_samples=900, n_features=12, n_classes=4, random_state=0
    )
    return X[:300], Y[:300], X[300:]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("decision", ["cardinality", "prototype", "threshold"])
def test_scores_do_not_depend_on_the_other_rows(data, precision, decision):
    X, Y, X_test = data  # 600 test rows: chunks of 256, the last one padded
    clf = MLabNCClassifier(
        hidden_layer_sizes=(32, 16),
        batch_size=32,
        max_epochs=3,
        precision=precision,
        decision=decision,
        random_state=0,
    ).fit(X, Y)
    assert chunk_size(clf.batch_size) < len(X_test)
    proba = clf.predict_proba(X_test)
    for i in range(len(X_test)):
        assert np.array_equal(proba[i], clf.predict_proba(X_test[i : i + 1])[0]), i
    rows = [0, 255, 256, 300, 599]  # either side of the chunk boundaries
    other_orders = {
        "predict": clf.predict(X_test),
        "decision_function": clf.decision_function(X_test),
        "transform": clf.transform(X_test),
    }
    for method, full in other_orders.items():
        reversed_rows = getattr(clf, method)(X_test[::-1])[::-1]
        assert np.array_equal(full, reversed_rows), method
        for i in rows:
            assert np.array_equal(full[i], getattr(clf, method)(X_test[i : i + 1])[0]), method


def test_sparse_and_float64_input_give_the_dense_float32_results(data):
    X, Y, X_test = data
    clf = MLabNCClassifier(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, random_state=0).fit(
        X, Y
    )
    expected = clf.predict_proba(X_test.astype(np.float32))
    assert np.array_equal(clf.predict_proba(X_test), expected)
    assert np.array_equal(clf.predict_proba(sp.csr_matrix(X_test)), expected)


class _Recorder(torch.nn.Module):
    """(logits, features) = (x W, x) of a fixed linear map, recording the batch sizes."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight
        self.sizes = []

    def forward(self, X):
        self.sizes.append(len(X))
        return X @ self.weight, X


def test_stream_outputs_runs_fixed_size_chunks_and_gathers_every_row():
    rng = np.random.default_rng(0)
    X, weight = rng.normal(size=(23, 5)), torch.from_numpy(rng.normal(size=(5, 3))).float()
    module = _Recorder(weight)
    seen = []

    def compute(logits, features):
        seen.append(features)
        return logits.double(), logits.argmax(dim=1)

    scores, best = stream_outputs(module, X, compute, size=8, device=torch.device("cpu"))
    assert module.sizes == [8, 8, 8]  # the last chunk of 7 rows padded to 8
    assert not module.training  # inference runs in evaluation mode
    assert torch.equal(seen[-1][7:], torch.zeros(1, 5))  # padding rows are zeros
    expected = X.astype(np.float32) @ weight.numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert scores.dtype == np.float64 and scores.shape == (23, 3)
    np.testing.assert_array_equal(best, expected.argmax(axis=1))


def test_stream_outputs_on_device_returns_tensors():
    X = np.arange(12.0).reshape(6, 2)
    module = _Recorder(torch.eye(2))
    (features,) = stream_outputs(
        module, X, lambda z, h: (h,), size=4, device=torch.device("cpu"), on_device=True
    )
    assert isinstance(features, torch.Tensor) and features.dtype == torch.float32
    np.testing.assert_array_equal(features.numpy(), X)


def test_chunk_size_is_fixed_by_the_batch_size():
    assert chunk_size(1) == chunk_size(64) == 256
    assert chunk_size(128) == 512


def test_probabilities_and_scores_match_numpy():
    logits = np.random.default_rng(0).normal(size=(5, 4))
    z = torch.from_numpy(logits)
    np.testing.assert_allclose(
        probabilities(z, independent=False, n_labels=3).numpy(), softmax(logits, axis=1)[:, :3]
    )
    np.testing.assert_allclose(
        probabilities(z, independent=True, n_labels=4).numpy(), 1 / (1 + np.exp(-logits))
    )
    log_p = log_softmax(logits[:, :2], axis=1)
    binary = decision_scores(z[:, :2], independent=False, n_labels=2, binary=True)
    np.testing.assert_allclose(binary.numpy(), log_p[:, 1] - log_p[:, 0])
    raw = decision_scores(z, independent=True, n_labels=4, binary=False)
    np.testing.assert_array_equal(raw.numpy(), logits)


def test_network_outputs_agree_with_the_separate_methods(data):
    X, Y, X_test = data
    clf = MLabNCClassifier(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, random_state=0).fit(
        X, Y
    )
    out = clf.network_outputs(X_test)
    np.testing.assert_array_equal(out.features.numpy().astype(np.float64), clf.transform(X_test))
    np.testing.assert_array_equal(out.label_sets.numpy().astype(int), clf.predict(X_test))
    assert out.logits.shape == (len(X_test), 4)


def test_custom_backbone_sees_only_full_chunks(data):
    X, Y, X_test = data
    clf = MLabNCClassifier(MLP, batch_size=16, max_epochs=1, random_state=0).fit(X, Y)
    sizes = []
    hook = clf.net_.module_.backbone.register_forward_hook(
        lambda module, args, out: sizes.append(len(args[0]))
    )
    clf.predict(X_test[:3])
    clf.predict(X_test)
    hook.remove()
    assert set(sizes) == {chunk_size(16)}
