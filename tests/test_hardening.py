"""Bad and unusual input to MLabNCClassifier: each works correctly or fails clearly."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from skorch.callbacks import Callback

import sklearn_mlabnc._batching as batching
from sklearn_mlabnc import MLabNCClassifier

SMALL = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=15, batch_size=16, random_state=0)


def _data(n=60):
    rng = np.random.default_rng(0)
    Y = np.zeros((n, 3), dtype=int)
    for i, labels in enumerate([[0], [1], [2], [0, 1]] * (n // 4)):
        Y[i, labels] = 1
    return Y @ rng.normal(size=(3, 5)) + 0.1 * rng.normal(size=(n, 5)), Y


def _reference():
    X, Y = _data()
    return MLabNCClassifier(**SMALL).fit(X, Y).predict_proba(X)


CONVERSIONS = {
    "float16": lambda X: X.astype(np.float16),
    "float32": lambda X: X.astype(np.float32),
    "fortran": np.asfortranarray,
    "object": lambda X: X.astype(object),
    "csr": sp.csr_matrix,
    "csc": sp.csc_matrix,
    "coo": sp.coo_matrix,
    "csr_array": sp.csr_array,
    "frame": lambda X: pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]),
    "frame_unnamed": pd.DataFrame,
}


@pytest.mark.parametrize("kind", CONVERSIONS)
def test_input_representations_train_the_same_model(kind):
    X, Y = _data()
    # float32 training: under bfloat16 the float16 rounding of the inputs changes the
    # rounding of the products and the trajectories part by ~1e-2 over 15 epochs.
    params = {**SMALL, "precision": "float32"}
    reference = MLabNCClassifier(**params).fit(X, Y).predict_proba(X)
    Xc = CONVERSIONS[kind](X)
    proba = MLabNCClassifier(**params).fit(Xc, Y).predict_proba(Xc)
    tol = 1e-2 if kind == "float16" else 1e-5  # float16 inputs lose precision on the way in
    np.testing.assert_allclose(proba, reference, atol=tol)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_integer_and_boolean_inputs(dtype):
    X, Y = _data()
    Xi = (X > 0).astype(dtype)
    clf = MLabNCClassifier(**SMALL).fit(Xi, Y)
    assert clf.predict(Xi).shape == Y.shape


def test_string_inputs_are_refused():
    X, Y = _data()
    with pytest.raises(ValueError, match="could not convert|Unable to convert"):
        MLabNCClassifier(**SMALL).fit(np.full(X.shape, "a", dtype=object), Y)


def test_single_sample_is_refused_and_two_work():
    X, Y = _data()
    with pytest.raises(ValueError, match="1 sample"):
        MLabNCClassifier(**SMALL).fit(X[:1], Y[:1])
    clf = MLabNCClassifier(**SMALL).fit(X[:2], Y[:2])
    assert clf.predict(X[:1]).shape == (1, 3)


def test_all_zero_and_all_one_labels():
    X, _ = _data()
    full = np.ones((60, 3), dtype=int)
    assert (MLabNCClassifier(**SMALL).fit(X, full).predict(X) == 1).all()
    with pytest.warns(UserWarning, match="never positive"):
        empty = MLabNCClassifier(**SMALL).fit(X, np.zeros((60, 3), dtype=int))
    assert (empty.predict(X) == 0).all()
    with pytest.raises(ValueError, match="Every row of y is empty"), pytest.warns(UserWarning):
        MLabNCClassifier(empty_label_sets="ignore", **SMALL).fit(X, np.zeros((60, 3), int))


def test_huge_values_and_subnormals():
    X, Y = _data()
    with pytest.raises(ValueError, match="Standardise X first"):
        MLabNCClassifier(**SMALL).fit(X * 1e30, Y)
    clf = MLabNCClassifier(**SMALL).fit(X * 1e10, Y)  # large but representable: works
    assert (clf.predict(X * 1e10) == Y).all(axis=1).mean() > 0.9
    with pytest.raises(ValueError, match="Standardise X first"):
        clf.predict(X * 1e30)
    with pytest.raises(ValueError, match="as large as 2.*e\\+300"):
        MLabNCClassifier(**SMALL).fit(X * 1e300, Y)
    tiny = MLabNCClassifier(**SMALL).fit(X * 1e-310, Y)
    assert np.isfinite(tiny.predict_proba(X * 1e-310)).all()


def test_streaming_from_host_memory_matches_the_resident_path(monkeypatch):
    X, Y = _data()
    resident = MLabNCClassifier(**SMALL).fit(X, Y).predict_proba(X)
    monkeypatch.setattr(batching, "_fits_on", lambda device, n_bytes: False)
    streamed = MLabNCClassifier(**SMALL).fit(X, Y)
    assert not batching.TensorBatches(X, None, "cpu").resident
    np.testing.assert_array_equal(streamed.predict_proba(X), resident)


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_a_usable_model():
    X, Y = _data()
    clf = MLabNCClassifier(callbacks=[_InterruptAt(3)], **SMALL).fit(X, Y)
    assert clf.n_iter_ == 3
    assert clf.predict(X).shape == Y.shape and clf.decision_ in clf.decision_scores_
