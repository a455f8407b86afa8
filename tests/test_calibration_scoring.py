"""Tests of the calibration metrics and scorers (sklearn_mlabnc._calibration_scoring)."""

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.scorers import (
    CALIBRATION_SCORERS,
    brier_scorer,
    expected_calibration_error,
    log_loss_scorer,
    per_label_brier_score,
    per_label_log_loss,
)

RNG = np.random.default_rng(0)
P = RNG.random((50, 3))
Y = (RNG.random((50, 3)) < P).astype(int)


def test_brier_and_log_loss_are_sklearns_averaged_over_labels():
    brier = np.mean([brier_score_loss(Y[:, k], P[:, k]) for k in range(3)])
    assert per_label_brier_score(Y, P) == pytest.approx(brier, rel=1e-12)
    loss = np.mean([log_loss(Y[:, k], P[:, k], labels=[0, 1]) for k in range(3)])
    assert per_label_log_loss(Y, P) == pytest.approx(loss, rel=1e-12)
    # a confident mistake is clipped to machine epsilon, not infinite
    assert per_label_log_loss([[1]], [[0.0]]) == pytest.approx(-np.log(np.finfo(float).eps))


def test_ece_by_its_definition():
    def reference(y, p, n_bins=10):
        total = 0.0
        for b in range(n_bins):
            lo, hi = b / n_bins, (b + 1) / n_bins
            inside = (p >= lo) & ((p < hi) if b < n_bins - 1 else (p <= hi))
            if inside.any():
                total += inside.sum() * abs(p[inside].mean() - y[inside].mean())
        return total / len(p)

    assert expected_calibration_error(Y, P) == pytest.approx(reference(Y.ravel(), P.ravel()))
    macro = np.mean([reference(Y[:, k], P[:, k], 5) for k in range(3)])
    got = expected_calibration_error(Y, P, n_bins=5, average="macro")
    assert got == pytest.approx(macro)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="shape"):
        per_label_brier_score(Y, P[:, :2])
    with pytest.raises(ValueError, match="probabilities in"):
        per_label_log_loss(Y, P + 1)
    with pytest.raises(ValueError, match="0/1"):
        expected_calibration_error(Y * 2, P)


def test_scorers_in_cross_validation_and_grid_search():
    X, Yml = make_multilabel_classification(n_samples=90, n_classes=3, random_state=0)
    clf = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    scores = cross_validate(clf, X, Yml, cv=2, scoring=CALIBRATION_SCORERS)
    for name in CALIBRATION_SCORERS:
        assert (scores[f"test_{name}"] <= 0).all()
    search = GridSearchCV(clf, {"max_epochs": [2, 5]}, cv=2, scoring=brier_scorer).fit(X, Yml)
    expected = -per_label_brier_score(Yml, search.predict_proba(X))
    assert brier_scorer(search.best_estimator_, X, Yml) == pytest.approx(expected)


def test_scorers_read_forests_and_one_dimensional_targets():
    X, Yml = make_multilabel_classification(n_samples=80, n_classes=3, random_state=1)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Yml)
    columns = np.stack([p[:, 1] for p in forest.predict_proba(X)], axis=1)
    assert brier_scorer(forest, X, Yml) == pytest.approx(-per_label_brier_score(Yml, columns))
    y = np.array(["a", "b", "c", "a"] * 20)
    clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=3, random_state=0).fit(X, y)
    onehot = (y[:, None] == clf.classes_[None, :]).astype(int)
    expected = -per_label_log_loss(onehot, clf.predict_proba(X))
    assert log_loss_scorer(clf, X, y) == pytest.approx(expected)
