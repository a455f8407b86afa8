"""Tests of NeuralCollapseAnalyzer: collapse metrics and coordinates as a transformer."""

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_mlabnc import CollapseFeatures, MLabNCClassifier
from sklearn_mlabnc.collapse import NeuralCollapseAnalyzer, collapse_report

TINY = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def data(label_set_data):
    return label_set_data()


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return MLabNCClassifier(**TINY).fit(X, Y)


# ---------------------------------------------------------- NeuralCollapseAnalyzer
def _exact_collapse(K=4, d=6, offset_seed=0):
    """Simplex-ETF singleton means, pairs at the average of their labels, no noise."""
    U = np.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K)  # unit rows, cosine -1/(K-1)
    U = np.hstack([U, np.zeros((K, d - K))])
    offset = np.random.default_rng(offset_seed).normal(size=d)
    sets = [(k,) for k in range(K)] + list(itertools.combinations(range(K), 2))
    reps = [3] * K + [2] * (len(sets) - K)
    Y = np.zeros((sum(reps), K), dtype=int)
    rows = np.repeat(np.arange(len(sets)), reps)
    for i, s in enumerate(rows):
        Y[i, list(sets[s])] = 1
    means = offset + 3.0 * U  # singleton means
    H = (Y @ means) / Y.sum(axis=1, keepdims=True)
    return H, Y, U, offset


def test_analyzer_on_exact_collapse():
    K = 4
    H, Y, U, offset = _exact_collapse(K)
    nca = NeuralCollapseAnalyzer().fit(H, Y)
    rep = nca.report_
    assert abs(rep.nc1) < 1e-9
    assert abs(rep.nc2_means) < 1e-9
    assert abs(rep.nc_m[2]) < 1e-6 and rep.c_m[2] == pytest.approx(1.0)
    np.testing.assert_allclose(nca.global_mean_, offset, atol=1e-12)
    np.testing.assert_allclose(nca.singleton_means_, offset + 3 * U, atol=1e-12)

    # singletons: cosine 1 with their own label's mean, -1/(K-1) with the others
    single = Y.sum(axis=1) == 1
    cos = nca.transform(H[single])
    expected = np.where(Y[single] == 1, 1.0, -1.0 / (K - 1))
    np.testing.assert_allclose(cos, expected, atol=1e-12)

    # pairs {i, j}: cos(u_i + u_j, u_k) from the construction directly
    pair = ~single
    V = Y[pair] @ U
    expected = (V @ U.T) / (np.linalg.norm(V, axis=1)[:, None] * np.linalg.norm(U, axis=1))
    np.testing.assert_allclose(nca.transform(H[pair]), expected, atol=1e-12)


def test_analyzer_report_matches_collapse_report(label_set_data):
    rng = np.random.default_rng(1)
    _, Y = label_set_data(n_labels=3, n=50, seed=1)
    H = Y @ rng.normal(size=(3, 5)) + 0.3 * rng.normal(size=(50, 5))
    W, b = rng.normal(size=(3, 5)), rng.normal(size=3)
    P = (H @ W.T + b > 0).astype(int)
    nca = NeuralCollapseAnalyzer(W=W, b=b, classes="label_sets", centered=False)
    nca.fit(H, Y, predictions=P)
    expected = collapse_report(
        H, Y, W, b, predictions=P, classes="label_sets", centered=False
    ).to_dict()
    got = nca.report_.to_dict()
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
        else:
            assert got[key] == value, key
    assert not math.isnan(got["nc3"]) and not math.isnan(got["soft_iou"])


def test_analyzer_label_names_from_dataframe_and_pandas_output():
    H, Y, _, _ = _exact_collapse(K=3, d=4)
    Ydf = pd.DataFrame(Y, columns=["cat", "dog", "owl"])
    Hdf = pd.DataFrame(H, columns=list("abcd"), index=np.arange(len(H)) + 10)
    nca = NeuralCollapseAnalyzer().set_output(transform="pandas").fit(Hdf, Ydf)
    np.testing.assert_array_equal(nca.labels_, ["cat", "dog", "owl"])
    out = nca.transform(Hdf)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["cos_cat", "cos_dog", "cos_owl"]
    assert list(out.index) == list(Hdf.index)
    np.testing.assert_array_equal(nca.feature_names_in_, list("abcd"))


def test_analyzer_default_label_names_and_1d_classes():
    H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 1.2], [-1.0, -1.0], [-1.1, -1.1]])
    nca = NeuralCollapseAnalyzer().fit(H, np.eye(3, dtype=int).repeat(2, axis=0))
    assert list(nca.get_feature_names_out()) == ["cos_label0", "cos_label1", "cos_label2"]
    y = np.array(["x", "x", "y", "y", "z", "z"])
    nca1d = NeuralCollapseAnalyzer().fit(H, y)
    np.testing.assert_array_equal(nca1d.classes_, ["x", "y", "z"])
    assert list(nca1d.get_feature_names_out()) == ["cos_x", "cos_y", "cos_z"]
    np.testing.assert_allclose(nca1d.transform(H), nca.transform(H))
    assert nca1d.score(H, y) == pytest.approx(nca.score(H, np.eye(3).repeat(2, axis=0)))


def test_analyzer_warns_and_gives_nan_for_labels_never_seen_alone():
    H, Y, _, _ = _exact_collapse(K=4)
    keep = ~((Y.sum(axis=1) == 1) & (Y[:, 3] == 1))  # label 3 only occurs in pairs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # metric-level NaN warnings
        with pytest.warns(UserWarning, match="never observed alone"):
            nca = NeuralCollapseAnalyzer().fit(H[keep], Y[keep])
    out = nca.transform(H)
    assert np.isnan(out[:, 3]).all() and np.isfinite(out[:, :3]).all()
    assert np.isnan(nca.singleton_means_[3]).all()


def test_analyzer_score_is_negative_nc1_and_tunes_in_grid_search(label_set_data):
    rng = np.random.default_rng(0)
    _, Y = label_set_data(n_labels=3, n=60)
    H = Y @ rng.normal(size=(3, 4)) + 0.2 * rng.normal(size=(60, 4))
    nca = NeuralCollapseAnalyzer().fit(H, Y)
    assert nca.score(H, Y) == pytest.approx(-nca.report_.nc1)
    assert nca.score(H, Y) < 0
    search = GridSearchCV(
        NeuralCollapseAnalyzer(), {"classes": ["singletons", "label_sets"]}, cv=2
    ).fit(H, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_analyzer_in_a_pipeline_after_collapse_features(data):
    X, Y = data
    pipe = make_pipeline(CollapseFeatures(MLabNCClassifier(**TINY)), NeuralCollapseAnalyzer())
    cos = pipe.fit_transform(X, Y)
    assert cos.shape == Y.shape and np.all(np.abs(cos) <= 1)
    H = pipe[0].transform(X)
    assert pipe.score(X, Y) == pytest.approx(-collapse_report(H, Y).nc1, rel=1e-9)


def test_analyzer_validation_errors():
    H, Y, _, _ = _exact_collapse()
    nca = NeuralCollapseAnalyzer().fit(H, Y)
    with pytest.raises(ValueError, match="features"):
        nca.transform(H[:, :3])
    with pytest.raises(ValueError, match="must match"):
        NeuralCollapseAnalyzer().fit(H, Y[:-1])
    with pytest.raises(ValueError, match="requires y"):
        NeuralCollapseAnalyzer().fit(H, None)
    with pytest.raises(ValueError, match="classes"):
        NeuralCollapseAnalyzer(classes="pairs").fit(H, Y)
    with pytest.raises(NotFittedError):
        NeuralCollapseAnalyzer().transform(H)
