import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mlabnc import CollapseFeatures, MLabNCClassifier
from sklearn_mlabnc.collapse import collapse_report, nc3
from sklearn_mlabnc.scorers import (
    COLLAPSE_SCORERS,
    make_collapse_scorer,
    nc1_scorer,
    nc2_scorer,
    nc3_scorer,
    nc4_scorer,
    soft_iou_scorer,
    tagwise_scorer,
)

TINY = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=10, batch_size=32, random_state=0)

# scorer -> (report field, sign of the scorer relative to the raw metric)
READY = {
    "nc1": (nc1_scorer, "nc1", -1),
    "nc2": (nc2_scorer, "nc2_means", -1),
    "nc3": (nc3_scorer, "nc3", -1),
    "tagwise": (tagwise_scorer, "nc_m_2", -1),
    "nc4": (nc4_scorer, "nc4", 1),
    "soft_iou": (soft_iou_scorer, "soft_iou", 1),
}


@pytest.fixture(scope="module")
def data(label_set_data):
    return label_set_data(n=72, scale=3.0, noise=0.3)


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return MLabNCClassifier(**TINY).fit(X, Y)


def _expected(clf, X, Y, H=None):
    """The raw metrics, computed independently from the public API."""
    H = clf.transform(X) if H is None else H
    rep = collapse_report(H, Y, clf.coef_, clf.intercept_, predictions=clf.predict(X))
    return rep.to_dict()


@pytest.mark.parametrize("metric", list(READY))
def test_ready_scorers_equal_the_signed_collapse_report(data, fitted, metric):
    X, Y = data
    scorer, field, sign = READY[metric]
    expected = _expected(fitted, X, Y)[field]
    assert not math.isnan(expected)
    assert scorer(fitted, X, Y) == pytest.approx(sign * expected, rel=1e-6, abs=1e-9)


def test_sign_convention(data, fitted):
    X, Y = data
    for name, scorer in COLLAPSE_SCORERS.items():
        assert scorer.greater_is_better is (not name.startswith("neg_"))
    assert nc1_scorer(fitted, X, Y) < 0
    assert 0 <= soft_iou_scorer(fitted, X, Y) <= 1
    assert 0 <= nc4_scorer(fitted, X, Y) <= 1
    flipped = make_collapse_scorer("nc1", greater_is_better=True)
    assert flipped(fitted, X, Y) == pytest.approx(-nc1_scorer(fitted, X, Y))
    negated_iou = make_collapse_scorer("soft_iou", greater_is_better=False)
    assert negated_iou(fitted, X, Y) == pytest.approx(-soft_iou_scorer(fitted, X, Y))


def test_repr_and_pickle():
    assert repr(nc1_scorer) == "make_collapse_scorer('nc1')"
    scorer = make_collapse_scorer("nc2", greater_is_better=True, which="both")
    assert repr(scorer) == "make_collapse_scorer('nc2', greater_is_better=True, which='both')"
    assert repr(pickle.loads(pickle.dumps(scorer))) == repr(scorer)


def test_options_are_forwarded(data, fitted):
    X, Y = data
    H = fitted.transform(X)
    rep = collapse_report(H, Y, fitted.coef_, classes="label_sets", global_mean="class_means")
    nc1_sets = make_collapse_scorer("nc1", classes="label_sets", global_mean="class_means")
    assert nc1_sets(fitted, X, Y) == pytest.approx(-rep.nc1, rel=1e-6)
    clf_nc2 = make_collapse_scorer("nc2", which="classifier", global_mean="class_means")
    assert clf_nc2(fitted, X, Y) == pytest.approx(-rep.nc2_classifier, rel=1e-6)
    both = make_collapse_scorer("nc2", which="both", global_mean="class_means")
    average = (rep.nc2_means + rep.nc2_classifier) / 2
    assert both(fitted, X, Y) == pytest.approx(-average, rel=1e-6)
    mean_m = make_collapse_scorer("tagwise", multiplicity="mean")
    assert mean_m(fitted, X, Y) == pytest.approx(tagwise_scorer(fitted, X, Y))


def test_tagwise_without_pairs_is_nan_with_a_warning(data, fitted):
    X, Y = data
    single = Y.sum(axis=1) == 1
    with pytest.warns(RuntimeWarning, match="multiplicity 2"):
        assert math.isnan(tagwise_scorer(fitted, X[single], Y[single]))


@pytest.mark.parametrize("metric", list(READY))
def test_scorers_on_a_pipeline(data, metric):
    X, Y = data
    pipe = make_pipeline(StandardScaler(), MLabNCClassifier(**TINY)).fit(X, Y)
    scorer, field, sign = READY[metric]
    Xt = pipe[0].transform(X)
    expected = _expected(pipe[-1], Xt, Y)[field]
    assert scorer(pipe, X, Y) == pytest.approx(sign * expected, rel=1e-6, abs=1e-9)


def test_grid_search_with_collapse_and_ordinary_scorers(data):
    X, Y = data
    search = GridSearchCV(
        MLabNCClassifier(**{**TINY, "max_epochs": 3}),
        {"head": ["linear", "etf"]},
        scoring={"f1": "f1_micro", "nc1": nc1_scorer},
        refit="f1",
        cv=2,
    ).fit(X, Y)
    results = search.cv_results_
    assert np.isfinite(results["mean_test_f1"]).all()
    assert np.isfinite(results["mean_test_nc1"]).all()
    assert (results["mean_test_nc1"] <= 0).all()
    assert search.best_params_["head"] in ("linear", "etf")


def test_cross_validate_with_all_collapse_scorers(data):
    X, Y = data
    scores = cross_validate(
        MLabNCClassifier(**{**TINY, "max_epochs": 3}),
        X,
        Y,
        cv=2,
        scoring={**COLLAPSE_SCORERS, "f1": "f1_micro"},
        return_train_score=True,
    )
    for name in [*COLLAPSE_SCORERS, "f1"]:
        assert np.isfinite(scores[f"test_{name}"]).all(), name
        assert np.isfinite(scores[f"train_{name}"]).all(), name


def test_one_forward_pass_per_call(data, fitted, monkeypatch):
    X, Y = data
    calls = []
    forward = fitted.network_outputs

    def counting(X):
        calls.append(1)
        return forward(X)

    monkeypatch.setattr(fitted, "network_outputs", counting)
    for scorer in COLLAPSE_SCORERS.values():
        calls.clear()
        scorer(fitted, X, Y)
        assert len(calls) == 1, scorer


def test_collapse_features_and_frozen_estimators_are_unwrapped(data, fitted):
    X, Y = data
    features = CollapseFeatures(fitted, prefit=True).fit(X, Y)
    frozen = FrozenEstimator(fitted)
    for scorer in COLLAPSE_SCORERS.values():
        value = scorer(fitted, X, Y)
        assert scorer(features, X, Y) == pytest.approx(value)
        assert scorer(frozen, X, Y) == pytest.approx(value)


def test_generic_head_on_collapse_features(data, fitted):
    """A final step without transform is the classifier; its input is the features."""
    X, Y = data
    pipe = make_pipeline(CollapseFeatures(fitted, prefit=True), KNeighborsClassifier(3))
    pipe.fit(X, Y)
    H = fitted.transform(X)
    rep = collapse_report(H, Y, predictions=pipe.predict(X))
    assert nc1_scorer(pipe, X, Y) == pytest.approx(-rep.nc1, rel=1e-9)
    assert nc4_scorer(pipe, X, Y) == pytest.approx(rep.nc4)
    with pytest.raises(ValueError, match="coef_"):
        nc3_scorer(pipe, X, Y)
    with pytest.raises(ValueError, match="coef_"):
        make_collapse_scorer("nc2", which="classifier")(pipe, X, Y)
    with pytest.raises(ValueError, match="decision_function"):
        soft_iou_scorer(pipe, X, Y)


def test_transformer_without_classifier(data):
    X, Y = data
    pca = PCA(n_components=4).fit(X)
    H = pca.transform(X)
    assert nc1_scorer(pca, X, Y) == pytest.approx(-collapse_report(H, Y).nc1, rel=1e-9)
    with pytest.raises(ValueError, match="coef_"):
        nc3_scorer(pca, X, Y)
    with pytest.raises(ValueError, match="predict"):
        nc4_scorer(pca, X, Y)
    with pytest.raises(ValueError, match="soft_iou"):
        soft_iou_scorer(pca, X, Y)


def test_linear_model_with_1d_classes():
    rng = np.random.default_rng(0)
    y = np.repeat(["b", "a", "c"], 12)
    X = 2 * np.eye(3)[np.searchsorted(["a", "b", "c"], y)] + 0.2 * rng.normal(size=(36, 3))
    clf = LogisticRegression().fit(X, y)
    Y = (y[:, None] == clf.classes_[None, :]).astype(int)
    assert nc3_scorer(clf, X, y) == pytest.approx(-nc3(X, Y, W=clf.coef_), rel=1e-9)
    rep = collapse_report(X, Y, clf.coef_, clf.intercept_)
    assert soft_iou_scorer(clf, X, y) == pytest.approx(rep.soft_iou, rel=1e-9)
    assert nc4_scorer(clf, X, y) == 1.0


def test_mlabnc_classifier_with_1d_classes():
    rng = np.random.default_rng(0)
    y = np.repeat(["x", "y", "z"], 15)
    X = 3 * np.eye(3)[np.searchsorted(["x", "y", "z"], y)] + 0.2 * rng.normal(size=(45, 3))
    clf = MLabNCClassifier(**TINY).fit(X, y)
    Y = (y[:, None] == clf.classes_[None, :]).astype(int)
    H = clf.transform(X)
    P = (clf.predict(X)[:, None] == clf.classes_[None, :]).astype(int)
    rep = collapse_report(H, Y, clf.coef_, clf.intercept_, predictions=P)
    assert nc1_scorer(clf, X, y) == pytest.approx(-rep.nc1, rel=1e-6)
    assert nc3_scorer(clf, X, y) == pytest.approx(-rep.nc3, rel=1e-6)
    assert nc4_scorer(clf, X, y) == pytest.approx(rep.nc4)
    assert soft_iou_scorer(clf, X, y) == pytest.approx(rep.soft_iou, rel=1e-6)
    with pytest.raises(ValueError, match="not among the known classes"):
        nc1_scorer(clf, X[:3], np.array(["x", "y", "w"]))


def test_dataframe_inputs(data, fitted):
    X, Y = data
    Ydf = pd.DataFrame(Y, columns=["a", "b", "c"])
    assert nc1_scorer(fitted, X, Ydf) == pytest.approx(nc1_scorer(fitted, X, Y))


def test_invalid_construction_and_calls(data, fitted):
    X, Y = data
    with pytest.raises(ValueError, match="metric must be one of"):
        make_collapse_scorer("nc5")
    with pytest.raises(TypeError, match="Unknown option"):
        make_collapse_scorer("nc4", classes="label_sets")
    with pytest.raises(ValueError, match="which"):
        make_collapse_scorer("nc2", which="weights")
    with pytest.raises(ValueError, match="multiplicity"):
        make_collapse_scorer("tagwise", multiplicity=1)
    with pytest.raises(ValueError, match="sample_weight"):
        nc1_scorer(fitted, X, Y, sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="true labels"):
        nc1_scorer(fitted, X, None)
    with pytest.raises(ValueError, match=r"coef_ has shape \(3, 16\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nc3_scorer(fitted, X, Y[:, :2])
