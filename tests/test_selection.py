"""Choosing the decision rule from the data: splits, cut tuning, cross-fitted choice."""

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification

from sklearn_mlabnc import MLabNCClassifier, _selection
from sklearn_mlabnc._cuts import METRICS, apply_cuts, set_score, tune_global_cut, tune_label_cuts
from sklearn_mlabnc._selection import (
    FOLD_STEP_SHARE,
    FOLDS,
    SELECTION_ROWS,
    OutOfFold,
    choose,
    cross_fitted_scores,
    fold_epochs,
    fold_plan,
    out_of_fold,
    rarest_label_folds,
    stratified_folds,
    stratified_split,
)
from sklearn_mlabnc._training import split_datasets

TINY = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=8, batch_size=32, random_state=0)


def _rare_labels(n=200, seed=0):
    """Indicator with common labels and labels of 2, 3 and 5 positives."""
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, 6)) < 0.3).astype(int)
    Y[:, 3:] = 0
    for k, count in zip((3, 4, 5), (2, 3, 5), strict=True):
        Y[rng.choice(n, count, replace=False), k] = 1
    return Y


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5])
def test_split_keeps_every_label_with_two_positives_on_both_sides(seed, fraction):
    Y = _rare_labels(seed=seed)
    train, valid = stratified_split(Y, fraction, seed)
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(len(Y)))
    assert abs(len(valid) - fraction * len(Y)) <= 5
    assert (Y[train].sum(0) > 0).all() and (Y[valid].sum(0) > 0).all()


def test_early_stopping_uses_the_stratified_split():
    Y = _rare_labels()
    X = np.random.default_rng(0).normal(size=(len(Y), 3)).astype(np.float32)
    params = dict(early_stopping=True, validation_fraction=0.1)
    train, valid = split_datasets(X, Y.astype(np.float32), "cpu", params, 0)
    # iterative stratification hits the fraction to within a few rows
    assert abs(len(valid.Y) - 20) <= 4 and len(valid.Y) + len(train.Y) == 200
    assert (np.asarray(valid.Y.cpu()).sum(0) > 0).all()
    assert (np.asarray(train.Y.cpu()).sum(0) > 0).all()


def test_folds_are_stratified_and_reproducible():
    Y = _rare_labels()
    folds = stratified_folds(Y, 3, seed=1)
    np.testing.assert_array_equal(folds, stratified_folds(Y, 3, seed=1))
    assert np.bincount(folds).tolist() in ([67, 67, 66], [66, 67, 67], [67, 66, 67])
    for f in range(3):  # the 5-positive label lands in every fold
        assert Y[folds == f, 5].sum() >= 1
    assert fold_epochs(40) == 10 and fold_epochs(8) == 5 and fold_epochs(3) == 3


@pytest.mark.parametrize("n_rows", [40, 391, 1500, 20_000, 60_000, 500_000])
@pytest.mark.parametrize("max_epochs", [3, 5, 40, 200])
@pytest.mark.parametrize("batch_size", [32, 128, 1024])
def test_fold_plan_keeps_the_step_budget_down_to_its_row_floor(n_rows, max_epochs, batch_size):
    rows, epochs = fold_plan(n_rows, max_epochs, batch_size)
    assert epochs == fold_epochs(max_epochs)
    assert min(n_rows, SELECTION_ROWS) <= rows <= n_rows
    fold_steps = FOLDS * epochs * int(np.ceil((rows * (FOLDS - 1) // FOLDS) / batch_size))
    final_steps = max_epochs * int(np.ceil(n_rows / batch_size))
    assert fold_steps <= FOLD_STEP_SHARE * final_steps or rows == min(n_rows, SELECTION_ROWS)
    if rows > SELECTION_ROWS and rows < n_rows:  # no needless subsampling
        more = (rows + batch_size) * (FOLDS - 1) // FOLDS
        assert FOLDS * epochs * int(np.ceil(more / batch_size)) > FOLD_STEP_SHARE * final_steps


@pytest.mark.parametrize("seed", range(3))
def test_rarest_label_folds_split_each_rarest_label_evenly(seed):
    rng = np.random.default_rng(seed)
    Y = rng.random((500, 40)) < np.linspace(0.005, 0.3, 40)
    Y[:7] = False  # rows without labels are dealt too
    folds = rarest_label_folds(Y, 3, seed)
    np.testing.assert_array_equal(folds, rarest_label_folds(Y, 3, seed))
    assert np.bincount(folds, minlength=3).max() - np.bincount(folds, minlength=3).min() <= 1
    counts = Y.sum(0)
    rarest = np.where(Y, counts, counts.max() + 1).argmin(1)
    for k in range(40):  # rows grouped by rarest label k: within one of even in each fold
        in_group = Y.any(1) & (rarest == k)
        per_fold = np.bincount(folds[in_group], minlength=3)
        assert per_fold.max() - per_fold.min() <= 1


def test_many_label_cells_use_the_rarest_label_folds(monkeypatch):
    Y = _rare_labels()
    monkeypatch.setattr(_selection, "ITERATIVE_CELLS", Y.size - 1)
    np.testing.assert_array_equal(stratified_folds(Y, 3, 0), rarest_label_folds(Y, 3, 0))


def test_fold_models_cover_a_subsample_of_large_data(monkeypatch, data):
    X, Y = data
    monkeypatch.setattr(_selection, "SELECTION_ROWS", 60)
    monkeypatch.setattr(_selection, "FOLD_STEP_SHARE", 0.05)
    clf = MLabNCClassifier(**TINY)
    plan = _selection.fold_plan(len(Y), clf.max_epochs, clf.batch_size)
    assert plan.rows == 60
    oof = out_of_fold(clf, X, Y, seed=0, with_prototypes=True)
    assert len(oof.rows) == 60 and np.all(np.diff(oof.rows) > 0)
    assert oof.scores.shape == (60, Y.shape[1]) and len(oof.folds) == 60
    fitted = MLabNCClassifier(decision="per_label", **TINY).fit(X, Y)
    assert fitted.label_thresholds_.shape == (Y.shape[1],)


def _sklearn_score(Y, P, metric):
    from sklearn.metrics import f1_score, hamming_loss, jaccard_score

    if metric == "hamming":
        return 1 - hamming_loss(Y, P)
    if metric == "jaccard_samples":
        return jaccard_score(Y, P, average="samples", zero_division=1)
    return f1_score(Y, P, average=metric[3:], zero_division=1)


@pytest.mark.parametrize("metric", METRICS)
def test_set_score_matches_scikit_learn(metric):
    rng = np.random.default_rng(0)
    Y, P = rng.random((50, 4)) < 0.3, rng.random((50, 4)) < 0.3
    Y[:3], P[:3] = False, False  # empty rows score 1, as zero_division=1 does
    assert set_score(Y, P, metric) == pytest.approx(_sklearn_score(Y, P, metric))


@pytest.mark.parametrize("metric", METRICS)
def test_tuned_global_cut_beats_every_cut_on_a_fine_grid(metric):
    rng = np.random.default_rng(1)
    Y = rng.random((80, 5)) < 0.3
    scores = np.where(Y, 0.0, -1.0) + rng.normal(scale=0.8, size=Y.shape)
    empty = np.zeros(80, bool)
    best = set_score(
        Y, apply_cuts(scores, empty, tune_global_cut(scores, empty, Y, metric)), metric
    )
    grid = [set_score(Y, apply_cuts(scores, empty, c), metric) for c in np.linspace(-4, 4, 801)]
    # exact for micro-F1 and Hamming; within the 200-cut resolution otherwise
    assert best >= max(grid) - (1e-12 if metric in ("f1_micro", "hamming") else 0.01)


@pytest.mark.parametrize("metric", METRICS)
def test_label_cuts_follow_each_labels_own_scale(metric):
    rng = np.random.default_rng(2)
    Y = rng.random((300, 3)) < 0.4
    shift = np.array([0.0, -3.0, 2.0])  # each label's scores on its own scale
    scores = np.where(Y, 1.0, 0.0) + shift + 0.2 * rng.normal(size=Y.shape)
    empty = np.zeros(300, bool)
    cuts = tune_label_cuts(scores, empty, Y, metric)
    assert np.all((cuts > shift) & (cuts < shift + 1))
    one = tune_global_cut(scores, empty, Y, metric)
    assert set_score(Y, apply_cuts(scores, empty, cuts), metric) > set_score(
        Y, apply_cuts(scores, empty, one), metric
    )


def test_decision_metric_changes_the_choice():
    # One true label per sample. Rule A predicts it plus one wrong label everywhere; rule B
    # predicts it on a third of the samples and nothing elsewhere. Micro-F1: A 2/3, B 1/2;
    # 1 - Hamming: A 0.8, B 0.867. So the metric decides.
    n, K = 60, 5
    Y = np.eye(K, dtype=bool)[np.arange(n) % K]
    A = Y | np.roll(Y, 1, axis=1)
    B = Y & (np.arange(n) % 3 == 0)[:, None]
    oof = OutOfFold(
        np.zeros((n, K)), np.zeros(n, bool), np.arange(n) % 3, {"cardinality": A, "prototype": B}
    )
    micro = cross_fitted_scores(oof, Y, "f1_micro", ["cardinality", "prototype"])
    hamming = cross_fitted_scores(oof, Y, "hamming", ["cardinality", "prototype"])
    assert micro == pytest.approx({"cardinality": 2 / 3, "prototype": 0.5})
    assert hamming == pytest.approx({"cardinality": 0.8, "prototype": 1 - 2 / 15})
    assert choose(micro) == "cardinality" and choose(hamming) == "prototype"
    assert choose({"per_label": 0.5, "threshold": 0.5}) == "threshold"  # fewer parameters


def test_cross_fitting_scores_tuned_cuts_on_rows_they_were_not_tuned_on():
    # Pure noise: cuts tuned on the same rows would look better than chance; cross-fitted
    # per-label cuts must not beat the single fixed cut by much.
    rng = np.random.default_rng(3)
    n, K = 300, 8
    Y = rng.random((n, K)) < 0.3
    oof = OutOfFold(rng.normal(size=(n, K)), np.zeros(n, bool), np.arange(n) % 3, {})
    fitted = cross_fitted_scores(oof, Y, "f1_micro", ["per_label"])["per_label"]
    in_sample = tune_label_cuts(oof.scores, oof.empty, Y, "f1_micro")
    optimistic = set_score(Y, apply_cuts(oof.scores, oof.empty, in_sample), "f1_micro")
    assert fitted < optimistic - 0.01


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        n_samples=150, n_features=10, n_classes=4, random_state=0
    )
    return X.astype(np.float32), Y


@pytest.mark.parametrize("loss", ["pal", "bce"])
def test_auto_reports_every_candidates_score_and_picks_the_best(data, loss):
    X, Y = data
    clf = MLabNCClassifier(loss=loss, **TINY).fit(X, Y)
    expected = (
        {"threshold", "tuned_threshold", "per_label"}
        if loss == "bce"
        else {"cardinality", "threshold", "per_label", "prototype"}
    )
    assert set(clf.decision_scores_) == expected
    assert all(0 <= v <= 1 for v in clf.decision_scores_.values())
    chosen = choose(clf.decision_scores_)
    assert clf.decision_ == ("threshold" if chosen == "tuned_threshold" else chosen)
    assert clf.predict(X).shape == Y.shape
    if clf.decision_ == "per_label":
        assert clf.label_thresholds_.shape == (4,)


def test_auto_is_reproducible_with_random_state(data):
    X, Y = data
    first = MLabNCClassifier(**TINY).fit(X, Y)
    second = MLabNCClassifier(**TINY).fit(X, Y)
    assert first.decision_scores_ == second.decision_scores_
    np.testing.assert_array_equal(first.predict(X), second.predict(X))


@pytest.mark.filterwarnings("ignore:Label.*never positive")
@pytest.mark.parametrize("decision", ["auto", "per_label"])
@pytest.mark.parametrize("loss", ["pal", "bce"])
def test_a_label_never_positive_in_training_still_works(data, decision, loss):
    X, Y = data
    Y = Y.copy()
    Y[:, 2] = 0
    clf = MLabNCClassifier(decision=decision, loss=loss, **TINY).fit(X, Y)
    predicted = clf.predict(X)
    assert predicted.shape == Y.shape
    assert predicted[:, 2].mean() < 0.05


def test_partial_fit_and_tiny_data_use_the_default_rule(data):
    X, Y = data
    clf = MLabNCClassifier(**TINY).partial_fit(X, Y)
    assert clf.decision_ == "cardinality" and not hasattr(clf, "decision_scores_")
    small = MLabNCClassifier(**TINY).fit(X[:20], Y[:20])
    assert small.decision_ == "cardinality" and not hasattr(small, "decision_scores_")
    with pytest.raises(ValueError, match="per_label.*decision='threshold'"):
        MLabNCClassifier(decision="per_label", **TINY).partial_fit(X, Y)
