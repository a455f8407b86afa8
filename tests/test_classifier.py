import pickle
import shutil
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mlabnc import MLabNCClassifier, load_model

SMALL = dict(hidden_layer_sizes=(32,), lr=1e-2, max_epochs=20, batch_size=32, random_state=0)


def _multilabel_data(n_labels=4, n=120, seed=0):
    """Data whose label sets are a clean function of X: singletons and pairs."""
    rng = np.random.default_rng(seed)
    sets = [[k] for k in range(n_labels)] + [[0, 1], [1, 2]]
    Y = np.zeros((n, n_labels), dtype=int)
    for i in range(n):
        Y[i, sets[i % len(sets)]] = 1
    X = Y @ rng.normal(size=(n_labels, 8)) + 0.05 * rng.normal(size=(n, 8))
    return X, Y


@pytest.mark.parametrize(
    "decision", ["threshold", "per_label", "cardinality", "prototype", "auto"]
)
@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
def test_learns_label_sets_with_every_decision_rule(decision, loss):
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(decision=decision, loss=loss, **{**SMALL, "max_epochs": 40})
    Y_pred = clf.fit(X, Y).predict(X)
    assert Y_pred.shape == Y.shape and Y_pred.dtype.kind == "i"
    assert (Y_pred == Y).all(axis=1).mean() >= 0.95
    np.testing.assert_array_equal(clf.multiplicities_, [1, 2])


def test_bce_loss_uses_sigmoid_half_threshold():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(loss="bce", **{**SMALL, "max_epochs": 40}).fit(X, Y)
    sigmoid = 1 / (1 + np.exp(-clf.decision_function(X)))  # the uncalibrated sigmoids
    np.testing.assert_array_equal(clf.predict(X), (sigmoid >= 0.5).astype(int))
    assert (clf.predict(X) == Y).all(axis=1).mean() >= 0.95


def test_fitted_attributes_and_output_shapes():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    assert clf.n_features_in_ == 8 and clf.n_labels_ == 4 and clf.n_iter_ == 20
    assert [list(c) for c in clf.classes_] == [[0, 1]] * 4
    assert len(clf.history_) == 20 and {"train_loss", "epoch", "dur"} <= set(clf.history_[0])
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]
    proba = clf.predict_proba(X)  # calibrated per-label probabilities
    assert proba.shape == (120, 4) and np.all((proba >= 0) & (proba <= 1))
    shares = clf.predict_label_distribution(X)  # the PAL softmax over the labels
    np.testing.assert_allclose(shares.sum(axis=1), 1, atol=1e-5)  # no background output
    scores = clf.decision_function(X)
    np.testing.assert_allclose(np.exp(scores), shares, rtol=1e-4)
    assert clf.transform(X).shape == (120, 32)
    assert clf.coef_.shape == (4, 32) and clf.intercept_.shape == (4,)
    # decision="auto" chose among the candidates it scored (see test_selection.py)
    assert clf.decision_ in clf.decision_scores_
    assert set(clf.decision_scores_) == {"cardinality", "threshold", "per_label", "prototype"}
    fixed = MLabNCClassifier(decision="cardinality", **SMALL).fit(X, Y)
    assert not hasattr(fixed, "threshold_") and not hasattr(fixed, "decision_scores_")
    tuned = MLabNCClassifier(decision="threshold", **SMALL).fit(X, Y)
    assert 0 < tuned.threshold_ <= 1


def test_multiclass_targets_are_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    y = np.repeat(["cat", "dog", "eel"], 30)
    X = rng.normal(size=(90, 3)) + 3 * (y[:, None] == np.array(["cat", "dog", "eel"]))
    clf = MLabNCClassifier(**SMALL).fit(X, y)
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    assert clf.score(X, y) > 0.95
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1, rtol=1e-5)


def test_empty_label_sets_background_predicts_empty_set():
    X, Y = _multilabel_data(n=150)
    Y[::5] = 0  # every fifth row has no label
    X[::5] = 3.0 + np.random.default_rng(1).normal(scale=0.05, size=X[::5].shape)
    clf = MLabNCClassifier(**{**SMALL, "max_epochs": 40}).fit(X, Y)
    assert clf.has_background_ and 0 in clf.multiplicities_
    Y_pred = clf.predict(X)
    assert (Y_pred[::5] == 0).all()
    assert (Y_pred == Y).all(axis=1).mean() >= 0.9
    assert clf.predict_proba(X).shape == (150, 4)
    assert clf.coef_.shape[0] == 4  # the background row is internal


def test_empty_label_sets_ignore_and_error():
    X, Y = _multilabel_data()
    Y[:10] = 0
    with pytest.warns(UserWarning, match="Dropping 10 rows"):
        clf = MLabNCClassifier(empty_label_sets="ignore", **SMALL).fit(X, Y)
    assert not clf.has_background_
    with pytest.raises(ValueError, match="no positive label"):
        MLabNCClassifier(empty_label_sets="error", **SMALL).fit(X, Y)


@pytest.mark.parametrize("n_labels", [2, 6])
@pytest.mark.parametrize("scoring", ["roc_auc", "average_precision", "f1_micro"])
def test_sklearn_scorers_on_multilabel_targets(n_labels, scoring):
    X, Y = make_multilabel_classification(
        n_samples=120, n_features=10, n_classes=n_labels, allow_unlabeled=False, random_state=0
    )
    scores = cross_val_score(MLabNCClassifier(**SMALL), X, Y, scoring=scoring, cv=2)
    assert np.all(np.isfinite(scores)) and np.all(scores > 0.5)


def test_grid_search_over_heads_and_pipeline():
    X, Y = make_multilabel_classification(
        n_samples=150, n_features=12, n_classes=5, allow_unlabeled=False, random_state=0
    )
    pipe = make_pipeline(StandardScaler(), MLabNCClassifier(**SMALL))
    search = GridSearchCV(
        pipe,
        {"mlabncclassifier__head": ["linear", "etf"], "mlabncclassifier__lr": [1e-2, 3e-3]},
        scoring="f1_micro",
        cv=2,
    )
    search.fit(X, Y)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert search.best_score_ > 0.5
    assert search.predict(X).shape == Y.shape


@pytest.mark.parametrize("head", ["linear", "etf"])
def test_same_seed_gives_identical_predictions(head):
    X, Y = _multilabel_data()
    a = MLabNCClassifier(head=head, feature_dim="n_classes", **SMALL).fit(X, Y)
    b = MLabNCClassifier(head=head, feature_dim="n_classes", **SMALL).fit(X, Y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = MLabNCClassifier(head=head, feature_dim="n_classes", **{**SMALL, "random_state": 1})
    assert not np.array_equal(a.predict_proba(X), c.fit(X, Y).predict_proba(X))


def test_dropout_training_is_reproducible_and_leaves_global_rng_alone():
    X, Y = _multilabel_data()
    config = {**SMALL, "hidden_layer_sizes": (16, 16), "dropout": 0.5}
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = MLabNCClassifier(**config).fit(X, Y).predict_proba(X)
    assert torch.rand(1) == before  # fit did not consume the caller's generator
    b = MLabNCClassifier(**config).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_predictions_do_not_depend_on_batching():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    whole = clf.predict(X)
    parts = np.vstack([clf.predict(X[i : i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_array_equal(whole, parts)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip(dump, tmp_path):
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(decision="prototype", **SMALL).fit(X, Y)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_sparse_and_dataframe_inputs_match_dense():
    X, Y = _multilabel_data()
    dense = MLabNCClassifier(**SMALL).fit(X, Y)
    sparse = MLabNCClassifier(**SMALL).fit(sp.csr_matrix(X), sp.csr_matrix(Y))
    np.testing.assert_allclose(dense.predict_proba(X), sparse.predict_proba(sp.csr_matrix(X)))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    labels = pd.DataFrame(Y, columns=list("abcd"))
    framed = MLabNCClassifier(**SMALL).fit(frame, labels)
    assert list(framed.feature_names_in_) == [f"f{i}" for i in range(8)]
    np.testing.assert_allclose(framed.predict_proba(frame), dense.predict_proba(X))
    lists = MLabNCClassifier(**SMALL).fit(X, Y.tolist())
    np.testing.assert_array_equal(lists.predict(X), dense.predict(X))


def test_partial_fit_and_warm_start_continue_training():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(**SMALL)
    for _ in range(3):
        clf.partial_fit(X, Y)
    assert clf.n_iter_ == 3
    warm = MLabNCClassifier(warm_start=True, **{**SMALL, "max_epochs": 5}).fit(X, Y)
    first_loss = warm.history_[-1]["train_loss"]
    warm.fit(X, Y)
    assert warm.n_iter_ == 10 and warm.history_[-1]["train_loss"] < first_loss
    with pytest.raises(ValueError, match="labels but the model was fitted with 4"):
        clf.partial_fit(X, Y[:, :3])


def test_early_stopping_holds_out_validation_data():
    X, Y = _multilabel_data(n=200)
    clf = MLabNCClassifier(early_stopping=True, n_iter_no_change=3, **{**SMALL, "max_epochs": 60})
    clf.fit(X, Y)
    assert "valid_loss" in clf.history_[-1]
    assert clf.n_iter_ <= 60


def test_feature_dim_and_user_backbone():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(feature_dim="n_classes", head="etf", **SMALL).fit(X, Y)
    assert clf.transform(X).shape == (120, 4)
    backbone = torch.nn.Sequential(torch.nn.Linear(8, 10), torch.nn.Tanh())
    custom = MLabNCClassifier(backbone, **SMALL).fit(X, Y)
    assert custom.transform(X).shape == (120, 10)
    assert backbone[0].weight.grad is None  # the user's instance was copied, not trained
    by_class = MLabNCClassifier(lambda n: torch.nn.Linear(n, 6), feature_dim=5, **SMALL)
    assert by_class.fit(X, Y).transform(X).shape == (120, 5)
    with pytest.raises(TypeError, match="callable returning one"):
        MLabNCClassifier(lambda n: "not a module", **SMALL).fit(X, Y)


def test_bfloat16_precision_trains():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(precision="bfloat16", **{**SMALL, "max_epochs": 40}).fit(X, Y)
    assert (clf.predict(X) == Y).all(axis=1).mean() >= 0.9


@pytest.mark.parametrize(
    "optimizer, torch_class",
    [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)],
)
def test_builtin_optimizers_run_fused_and_match_the_unfused_update(optimizer, torch_class):
    X, Y = _multilabel_data()
    unfused = type("Unfused", (torch_class,), {})  # a user's class: left as it is
    fused = MLabNCClassifier(optimizer=optimizer, **SMALL).fit(X, Y)
    plain = MLabNCClassifier(optimizer=unfused, **SMALL).fit(X, Y)
    assert fused.net_.optimizer_.defaults["fused"] is True
    assert not plain.net_.optimizer_.defaults.get("fused")
    # Compared through the training losses: the bias of a layer followed by batch norm has
    # a zero gradient up to rounding, which Adam rescales to full-size steps, so raw
    # parameters (and eval-mode outputs, through the running means) differ more.
    losses = [[row["train_loss"] for row in clf.history_] for clf in (fused, plain)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile on the CPU needs a C++ compiler (g++ or c++ on PATH)",
)
def test_compiled_network_matches_eager_and_saves_uncompiled(tmp_path):
    X, Y = _multilabel_data()
    # float32: under bfloat16, compiled and eager kernels round differently during training.
    params = {**SMALL, "max_epochs": 3, "precision": "float32"}
    eager = MLabNCClassifier(**params).fit(X, Y)
    compiled = MLabNCClassifier(compile=True, **params).fit(X, Y)
    assert compiled.net_.module_._compiled_call_impl is not None
    expected = eager.predict_proba(X)
    np.testing.assert_allclose(compiled.predict_proba(X), expected, atol=1e-5)
    assert list(compiled.net_.module_.state_dict()) == list(eager.net_.module_.state_dict())
    for loaded in (
        pickle.loads(pickle.dumps(compiled)),
        load_model(compiled.save(tmp_path / "m.safetensors")),
    ):
        np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-5)


def test_divergence_raises_a_clear_error():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(optimizer="sgd", lr=1e12, momentum=0.9, max_epochs=20)
    with pytest.raises(FloatingPointError, match="diverged.*Lower the learning rate"):
        clf.fit(X * 1e3, Y)


# --------------------------------------------------------------------- bad input
def _bad_y(kind, Y):
    if kind == "values":
        bad = Y.copy()
        bad[0, 0] = 2
        return bad, "values 0 and 1 only"
    return Y[:-3], "X has 120 samples but y has 117"


@pytest.mark.parametrize("kind", ["values", "rows"])
def test_bad_targets_raise(kind):
    X, Y = _multilabel_data()
    bad, match = _bad_y(kind, Y)
    with pytest.raises(ValueError, match=match):
        MLabNCClassifier(**SMALL).fit(X, bad)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_inputs_raise(value):
    X, Y = _multilabel_data()
    X[3, 2] = value
    with pytest.raises(ValueError, match="NaN|infinity"):
        MLabNCClassifier(**SMALL).fit(X, Y)


def test_label_never_positive_warns():
    X, Y = _multilabel_data()
    Y[:, 3] = 0
    Y[Y.sum(axis=1) == 0, 0] = 1
    with pytest.warns(UserWarning, match=r"Label\(s\) \[3\] are never positive"):
        clf = MLabNCClassifier(**SMALL).fit(X, Y)
    assert clf.predict(X)[:, 3].sum() == 0


def test_wrong_feature_count_and_empty_x_raise():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="8 features"):
        clf.predict(X[:, :5])
    with pytest.raises(ValueError, match="0 sample"):
        MLabNCClassifier(**SMALL).fit(X[:0], Y[:0])


@pytest.mark.parametrize(
    "device, match",
    [("tpu", "Unknown device"), ("cuda", "CUDA is not available"), ("mps", "Unsupported")],
)
def test_bad_devices_raise(device, match):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, Y = _multilabel_data()
    with pytest.raises(ValueError, match=match):
        MLabNCClassifier(device=device, **SMALL).fit(X, Y)


def test_etf_head_needs_enough_features():
    X, Y = _multilabel_data()
    with pytest.raises(ValueError, match="n_features >= 4"):
        MLabNCClassifier(head="etf", feature_dim=3, **SMALL).fit(X, Y)


def test_no_warnings_on_clean_fit():
    X, Y = _multilabel_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLabNCClassifier(**SMALL).fit(X, Y).predict(X)


def test_concurrent_predictions_from_threads_agree():
    from concurrent.futures import ThreadPoolExecutor

    X, Y = _multilabel_data(n=300)
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    expected = clf.predict_proba(X)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: clf.predict_proba(X), range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_grid_search_in_parallel_worker_processes():
    X, Y = _multilabel_data()
    clf = MLabNCClassifier(decision="cardinality", **SMALL)  # no fold models: a fast test
    search = GridSearchCV(
        clf, {"head": ["linear", "etf"]}, scoring="f1_micro", cv=2, n_jobs=2
    ).fit(X, Y)
    serial = GridSearchCV(clf, {"head": ["linear", "etf"]}, scoring="f1_micro", cv=2).fit(X, Y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
