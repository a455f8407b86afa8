import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mlabnc import CollapseFeatures, MLabNCClassifier

TINY = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def data(label_set_data):
    return label_set_data()


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
