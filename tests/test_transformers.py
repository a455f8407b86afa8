import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.collapse import collapse_report
from sklearn_mlabnc.transformers import CollapseFeatures, NeuralCollapseAnalyzer

TINY = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, batch_size=32, random_state=0)


def _data(n_labels=3, n=60, seed=0):
    """Singletons and one pair per pair of consecutive labels, a clean function of X."""
    rng = np.random.default_rng(seed)
    sets = [[k] for k in range(n_labels)] + [[k, k + 1] for k in range(n_labels - 1)]
    Y = np.zeros((n, n_labels), dtype=int)
    for i in range(n):
        Y[i, sets[i % len(sets)]] = 1
    X = Y @ rng.normal(size=(n_labels, 6)) + 0.05 * rng.normal(size=(n, 6))
    return X, Y


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return MLabNCClassifier(**TINY).fit(X, Y)


# ---------------------------------------------------------------- CollapseFeatures
def test_collapse_features_equal_an_identically_seeded_classifier(data):
    X, Y = data
    net = MLabNCClassifier(**TINY)
    features = CollapseFeatures(net).fit(X, Y)
    reference = MLabNCClassifier(**TINY).fit(X, Y)
    np.testing.assert_allclose(features.transform(X), reference.transform(X), rtol=1e-6)
    assert features.estimator_ is not net and not hasattr(net, "net_")  # a fitted clone
    assert features.n_features_in_ == X.shape[1]
    assert features.n_features_out_ == 16
    names = features.get_feature_names_out()
    np.testing.assert_array_equal(names, [f"collapsefeatures{i}" for i in range(16)])


def test_collapse_features_default_estimator_is_mlabnc_classifier(data):
    X, Y = data
    features = CollapseFeatures().set_params().fit(X[:20], Y[:20])
    assert isinstance(features.estimator_, MLabNCClassifier)
    assert features.transform(X[:3]).shape == (3, 256)


@pytest.mark.parametrize(
    "head",
    [
        KNeighborsClassifier(n_neighbors=3),
        OneVsRestClassifier(LogisticRegression()),
    ],
    ids=["knn", "ovr-logistic"],
)
def test_collapse_features_feed_a_downstream_sklearn_model(data, head):
    X, Y = data
    pipe = make_pipeline(StandardScaler(), CollapseFeatures(MLabNCClassifier(**TINY)), head)
    pipe.fit(X, Y)
    Y_pred = pipe.predict(X)
    assert Y_pred.shape == Y.shape
    assert set(np.unique(Y_pred)) <= {0, 1}
    assert 0.0 <= pipe.score(X, Y) <= 1.0


def test_collapse_features_with_multiclass_targets_and_logistic_regression():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 15)
    X = np.eye(3)[np.searchsorted(["a", "b", "c"], y)] + 0.05 * rng.normal(size=(45, 3))
    pipe = make_pipeline(CollapseFeatures(MLabNCClassifier(**TINY)), LogisticRegression())
    assert pipe.fit(X, y).predict(X[:2]).dtype.kind == "U"


def test_collapse_features_pandas_output_and_feature_names(data):
    X, Y = data
    Xdf = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])], index=range(100, 160))
    features = CollapseFeatures(MLabNCClassifier(**TINY)).set_output(transform="pandas")
    out = features.fit_transform(Xdf, Y)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"collapsefeatures{i}" for i in range(16)]
    assert list(out.index) == list(Xdf.index)
    np.testing.assert_array_equal(features.feature_names_in_, Xdf.columns)
    np.testing.assert_allclose(out.to_numpy(), features.estimator_.transform(Xdf))
    with pytest.raises(ValueError, match="feature_names_in_"):
        features.get_feature_names_out(["a", "b", "c", "d", "e", "f"])


def test_prefit_does_not_refit(data, fitted, monkeypatch):
    X, Y = data

    def fail(*args, **kwargs):
        raise AssertionError("a prefit estimator must not be refitted")

    monkeypatch.setattr(fitted, "fit", fail)
    features = CollapseFeatures(fitted, prefit=True)
    # transform works straight away, and fit only adopts the estimator
    np.testing.assert_allclose(features.transform(X), fitted.transform(X))
    assert features.fit(X, Y).estimator_ is fitted
    np.testing.assert_allclose(features.transform(X), fitted.transform(X))
    assert features.n_features_out_ == fitted.transform(X[:1]).shape[1]


def test_prefit_requires_a_fitted_estimator(data):
    X, Y = data
    with pytest.raises(NotFittedError, match="prefit=True"):
        CollapseFeatures(MLabNCClassifier(**TINY), prefit=True).fit(X, Y)
    with pytest.raises(ValueError, match="estimator=None"):
        CollapseFeatures(prefit=True).fit(X, Y)


def test_frozen_estimator_survives_cross_validation(data, fitted):
    X, Y = data
    before = fitted.transform(X)
    pipe = make_pipeline(CollapseFeatures(FrozenEstimator(fitted)), KNeighborsClassifier(3))
    scores = cross_val_score(pipe, X, Y, cv=2)
    assert scores.shape == (2,)
    np.testing.assert_array_equal(fitted.transform(X), before)


@pytest.mark.parametrize("estimator", [LogisticRegression(), "not an estimator"])
def test_collapse_features_rejects_estimators_without_transform(data, estimator):
    X, Y = data
    with pytest.raises(ValueError, match="transform"):
        CollapseFeatures(estimator).fit(X, Y[:, 0])


def test_collapse_features_not_fitted_and_clone(data):
    X, _ = data
    features = CollapseFeatures(MLabNCClassifier(**TINY))
    with pytest.raises(NotFittedError):
        features.transform(X)
    copy = clone(features)
    assert copy.get_params()["estimator__max_epochs"] == 5


def test_collapse_features_generic_transformer(data):
    X, Y = data
    features = CollapseFeatures(StandardScaler()).fit(X, Y)
    np.testing.assert_allclose(features.transform(X), StandardScaler().fit_transform(X))
    assert features.n_features_out_ == X.shape[1]


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


def test_analyzer_report_matches_collapse_report():
    rng = np.random.default_rng(1)
    _, Y = _data(n_labels=3, n=50, seed=1)
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


def test_analyzer_score_is_negative_nc1_and_tunes_in_grid_search():
    rng = np.random.default_rng(0)
    _, Y = _data(n_labels=3, n=60)
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


@parametrize_with_checks(
    [
        NeuralCollapseAnalyzer(),
        CollapseFeatures(MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)),
    ]
)
def test_sklearn_common_checks(estimator, check):
    with warnings.catch_warnings():
        # random common-check data: single-sample classes make some metrics NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        check(estimator)
