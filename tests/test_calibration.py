"""Tests of the calibrated per-label probabilities (sklearn_mlabnc._calibration)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.special import expit, log_softmax

import sklearn_mlabnc._calibration as calibration
from sklearn_mlabnc import MLabNCClassifier, load_model
from sklearn_mlabnc._calibration import LabelCalibrator, calibration_scores

SMALL = dict(hidden_layer_sizes=(32,), lr=1e-2, max_epochs=12, batch_size=32, random_state=0)


def _data(n=120, seed=0):
    """Singletons and pairs of 4 labels, a clean function of X (column 0: the row's id)."""
    rng = np.random.default_rng(seed)
    sets = [[0], [1], [2], [3], [0, 1], [1, 2]]
    Y = np.zeros((n, 4), dtype=int)
    for i in range(n):
        Y[i, sets[i % len(sets)]] = 1
    X = Y @ rng.normal(size=(4, 8)) + 0.3 * rng.normal(size=(n, 8))
    return X, Y


def _penalised_objective(theta, s, y, lam, centre):
    z = theta[0] * s + theta[1]
    return np.sum(np.logaddexp(0, z) - y * z) + 0.5 * lam * np.sum((theta - centre) ** 2)


def test_label_calibrator_matches_a_generic_optimiser_including_labels_without_positives():
    rng = np.random.default_rng(1)
    S = rng.normal(size=(300, 4)) * 2 - 3
    Y = (rng.random((300, 4)) < expit(1.5 * S + 2)).astype(int)
    Y[:, 2] = 0  # never positive
    Y[:, 3] = 0
    Y[7, 3] = 1  # one positive
    cal = LabelCalibrator(shrinkage=1.0).fit(S, Y)
    pooled = minimize(_penalised_objective, [0, 0], args=(S.ravel(), Y.ravel(), 1e-6, 0)).x
    np.testing.assert_allclose(cal.pooled_, pooled, atol=1e-4)
    for k in range(4):
        args = (S[:, k], Y[:, k], 1.0, cal.pooled_)
        expected = minimize(_penalised_objective, cal.pooled_, args=args, tol=1e-10).x
        np.testing.assert_allclose(cal.coef_[k], expected, atol=1e-4)
    P = cal.predict(S)
    assert np.isfinite(P).all() and (P > 0).all() and (P < 1).all()
    # a label with no positive sits below the pooled map (pulled towards it, not to 0)
    assert (P[:, 2] < expit(cal.pooled_[0] * S[:, 2] + cal.pooled_[1])).all()
    np.testing.assert_allclose(cal.apply(torch.from_numpy(S)).numpy(), P, rtol=1e-12)


def test_calibration_scores_are_label_log_softmax_or_logits():
    logits = torch.tensor([[2.0, 0.0, -1.0, 5.0], [0.5, 0.5, 0.5, -3.0]])  # last: background
    got = calibration_scores(logits, independent=False, n_labels=3).numpy()
    np.testing.assert_allclose(got, log_softmax(logits.numpy()[:, :3], axis=1), rtol=1e-6)
    got = calibration_scores(logits, independent=True, n_labels=3).numpy()
    np.testing.assert_array_equal(got, logits.numpy()[:, :3])


@pytest.mark.parametrize("loss", ["pal", "bce"])
def test_predict_proba_is_per_label_not_a_distribution(loss):
    X, Y = _data()
    clf = MLabNCClassifier(loss=loss, **SMALL).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and clf.calibration_ == "out_of_fold"
    assert ((proba >= 0) & (proba <= 1)).all()
    assert proba.sum(axis=1).max() > 1.2  # rows with two labels: not capped at 1
    # their sums track the number of labels (1 or 2 here)
    assert abs(proba.sum(axis=1).mean() - Y.sum(axis=1).mean()) < 0.3
    shares = clf.predict_label_distribution(X)
    assert (shares.sum(axis=1) <= 1 + 1e-6).all()
    if loss == "pal":  # the distribution keeps the softmax geometry of decision_function
        np.testing.assert_allclose(np.log(shares), clf.decision_function(X), rtol=1e-5)
        brier = lambda P: np.mean((P - Y) ** 2)  # noqa: E731
        assert brier(proba) < brier(shares)


def test_saved_loaded_and_pickled_models_give_identical_probabilities(tmp_path):
    X, Y = _data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    loaded = load_model(clf.save(tmp_path / "m.safetensors"))
    unpickled = pickle.loads(pickle.dumps(clf))
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    np.testing.assert_array_equal(unpickled.predict_proba(X), expected)
    assert loaded.calibration_ == "out_of_fold"


@pytest.mark.parametrize(
    "decision, calibration, n_fold_models",
    [("auto", "full", 6), ("auto", "fast", 3), ("cardinality", "full", 3)],
)
def test_calibration_never_sees_scores_of_rows_a_model_trained_on(
    decision, calibration, n_fold_models, monkeypatch
):
    X, Y = _data()
    X[:, 0] = np.arange(len(X))  # the row id travels with the row
    trained, epochs, done, evaluated, fitted_on = {}, {}, set(), [], {}
    alive = []  # keeps the fold models, so that no two share an id()
    original_fit = MLabNCClassifier._fit
    original_outputs = MLabNCClassifier.network_outputs
    original_calibrate = LabelCalibrator.fit

    def record_fit(self, X, y, **kwargs):
        alive.append(self)
        trained[id(self)] = set(np.asarray(X)[:, 0].astype(int))
        result = original_fit(self, X, y, **kwargs)
        epochs[id(self)] = self.n_iter_
        done.add(id(self))  # outputs asked for from now on are a trained model's
        return result

    def record_outputs(self, X):
        out = original_outputs(self, X)
        if id(self) in done:
            rows = np.asarray(X)[:, 0].astype(int)
            evaluated.append((id(self), rows, out.logits.numpy()))
        return out

    def record_calibration(self, S, Y):
        fitted_on["S"] = np.array(S)
        return original_calibrate(self, S, Y)

    monkeypatch.setattr(MLabNCClassifier, "_fit", record_fit)
    monkeypatch.setattr(MLabNCClassifier, "network_outputs", record_outputs)
    monkeypatch.setattr(LabelCalibrator, "fit", record_calibration)
    clf = MLabNCClassifier(decision=decision, calibration=calibration, **SMALL).fit(X, Y)
    fold_calls = [(m, rows, z) for m, rows, z in evaluated if m != id(clf)]
    assert len(fold_calls) == n_fold_models
    for model, rows, _ in fold_calls:
        assert not set(rows) & trained[model]  # evaluated only on rows it did not train on
    scores = np.full(Y.shape, np.nan)
    full = SMALL["max_epochs"] if calibration == "full" else 5  # fold_epochs(12) == 5
    for model, rows, logits in fold_calls[-3:]:  # the calibration's (trained last)
        assert epochs[model] == full
        scores[rows] = log_softmax(logits, axis=1)
    assert not np.isnan(scores).any()  # every row scored once, out of fold
    np.testing.assert_allclose(fitted_on["S"], scores, rtol=1e-6, atol=1e-9)


def test_labels_with_one_or_no_positive_get_finite_probabilities():
    X, Y = _data()
    Y = np.hstack([Y, np.zeros((len(Y), 2), dtype=int)])
    Y[5, 5] = 1  # label 5 has one positive, label 4 none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "label 4 is never positive"
        clf = MLabNCClassifier(**SMALL).fit(X, Y)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all() and (proba[:, 4:] > 0).all()
    assert proba[:, 4].max() < 0.05 and proba[:, 5].mean() < 0.05


def test_calibration_off_fits_nothing_and_says_so(monkeypatch):
    X, Y = _data()
    calls = []
    monkeypatch.setattr(calibration, "out_of_fold", lambda *a, **k: calls.append(1))
    clf = MLabNCClassifier(decision="cardinality", calibration="off", **SMALL).fit(X, Y)
    assert not calls and not hasattr(clf, "calibration_")
    with pytest.raises(ValueError, match="calibration='off'"):
        clf.predict_proba(X)
    assert clf.predict_label_distribution(X).shape == Y.shape


def test_multiclass_probabilities_still_sum_to_one():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 30)
    X = rng.normal(size=(90, 3)) + 3 * (y[:, None] == np.array(["a", "b", "c"]))
    clf = MLabNCClassifier(**SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(proba, clf.predict_label_distribution(X))
    assert not hasattr(clf, "calibration_")


def test_partial_fit_and_small_data_calibrate_in_sample(monkeypatch):
    X, Y = _data(n=24)
    calls = []
    monkeypatch.setattr(calibration, "out_of_fold", lambda *a, **k: calls.append(1))
    clf = MLabNCClassifier(**SMALL).fit(X, Y)  # under 30 rows: no fold models
    assert clf.calibration_ == "training" and not calls
    partial = MLabNCClassifier(**SMALL).partial_fit(X, Y)
    assert partial.calibration_ == "training"
    assert ((partial.predict_proba(X) >= 0) & (partial.predict_proba(X) <= 1)).all()


def test_a_model_saved_without_calibration_explains_the_fix(tmp_path):
    X, Y = _data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    del clf._calibrator  # as a file written before calibrated probabilities
    with pytest.raises(ValueError, match="predict_label_distribution"):
        clf.predict_proba(X)
    assert clf.predict_label_distribution(X).shape == Y.shape


def test_a_file_with_damaged_calibration_maps_is_refused(tmp_path):
    from sklearn_mlabnc._persistence import write_model

    X, Y = _data()
    documents, tensors = MLabNCClassifier(**SMALL).fit(X, Y)._fitted_state()
    tensors["calibration.coef"] = torch.zeros(3, 2, dtype=torch.float64)  # 4 labels
    with pytest.raises(ValueError, match="calibration.coef"):
        load_model(write_model(tmp_path / "shape.safetensors", tensors, documents))
    del tensors["calibration.coef"]  # fitted.calibration says there are maps
    with pytest.raises(ValueError, match="calibration"):
        load_model(write_model(tmp_path / "missing.safetensors", tensors, documents))


def test_fast_calibration_on_a_fold_model_subsample_pairs_each_score_with_its_row(monkeypatch):
    # On large data the fold models cover a subsample of the rows; force one on small data.
    import sklearn_mlabnc._selection as selection

    monkeypatch.setattr(selection, "SELECTION_ROWS", 90)
    monkeypatch.setattr(selection, "FOLD_STEP_SHARE", 0.0)
    X, Y = _data(n=180)
    seen = {}
    fit = LabelCalibrator.fit

    def spy(self, scores, labels):
        seen["scores"], seen["labels"] = scores, labels
        return fit(self, scores, labels)

    monkeypatch.setattr(LabelCalibrator, "fit", spy)
    clf = MLabNCClassifier(**SMALL).fit(X, Y)  # decision="auto", calibration="fast"
    assert clf.calibration_ == "out_of_fold"
    assert seen["scores"].shape == seen["labels"].shape == (90, 4)
    rows = np.sort(np.random.default_rng(clf._seed).permutation(180)[:90])  # out_of_fold's
    np.testing.assert_array_equal(seen["labels"], Y[rows])
    proba = clf.predict_proba(X)
    assert proba.shape == (180, 4) and np.isfinite(proba).all()
