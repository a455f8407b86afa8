import numpy as np
import pytest
from skorch import NeuralNet

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.callbacks import CollapseMonitor
from sklearn_mlabnc.collapse import collapse_curves, collapse_report


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    sets = [[0], [1], [2], [3], [0, 1], [2, 3]]
    Y = np.zeros((n, 4), dtype=int)
    for i in range(n):
        Y[i, sets[i % len(sets)]] = 1
    X = Y @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(n, 6))
    return X, Y


def test_last_record_equals_an_independent_report_of_the_final_features():
    X, Y = _data()
    clf = MLabNCClassifier(
        hidden_layer_sizes=(16,), lr=1e-2, max_epochs=6, collapse_every=3, random_state=0
    ).fit(X, Y)
    last = clf.history_[-1]
    expected = collapse_report(clf.transform(X), Y, W=clf.coef_, b=clf.intercept_)
    for key in ("nc1", "nc2_means", "nc2_classifier", "nc3"):
        assert last[f"train_{key}"] == pytest.approx(getattr(expected, key), rel=1e-4, abs=1e-6)
    assert last["train_nc_m_2"] == pytest.approx(expected.nc_m[2], rel=1e-4, abs=1e-6)
    assert [row["epoch"] for row in clf.history_ if "train_nc1" in row] == [1, 3, 6]


def test_collapse_curves_and_nc1_falls_with_a_fixed_etf_head():
    X, Y = _data(n=120)
    clf = MLabNCClassifier(
        hidden_layer_sizes=(32,),
        head="etf",
        feature_dim="n_classes",
        lr=1e-2,
        max_epochs=40,
        collapse_every=5,
        random_state=0,
    ).fit(X, Y)
    curves = collapse_curves(clf.history_)
    assert curves["epoch"] == [1, *range(5, 41, 5)]
    assert {"nc1", "nc2_means", "nc3", "nc_m_2", "c_m_2"} <= set(curves)
    assert curves["nc1"][-1] < curves["nc1"][0] / 3
    assert curves["nc2_classifier"][-1] == pytest.approx(0, abs=1e-5)  # the ETF itself


def test_validation_curves_with_early_stopping():
    X, Y = _data(n=150)
    clf = MLabNCClassifier(
        hidden_layer_sizes=(16,),
        max_epochs=4,
        collapse_every=2,
        early_stopping=True,
        random_state=0,
    ).fit(X, Y)
    assert "valid_nc1" in clf.history_[1] and "train_nc1" in clf.history_[1]
    assert collapse_curves(clf.history_, prefix="valid")["epoch"] == [1, 2, 4]


@pytest.mark.parametrize(
    "kwargs, match", [({"every": 0}, "positive integer"), ({"on": ("test",)}, "'train'")]
)
def test_bad_monitor_arguments(kwargs, match):
    net = NeuralNet(None, criterion=None, callbacks=[CollapseMonitor(**kwargs)])
    with pytest.raises(ValueError, match=match):
        net.initialize_callbacks()
