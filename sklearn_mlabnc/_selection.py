"""Choosing the decision rule from the data: stratified folds, out-of-fold outputs, cross-fitting.

What ``decision="auto"`` does (the user guide's decision-rules page has the measurements):

1. Split the training data into 3 multi-label-stratified folds (iterative stratification, so
   rare labels fall on every side; with over a million label cells, each row dealt by its
   rarest label) and train a short model on each two folds: the estimator's own settings
   with ``max_epochs`` cut to ``max(5, max_epochs // 4)``. On large data the folds cover a
   random subsample of the rows, so that the fold models' steps stay within 15 % of the
   final model's (:func:`fold_plan`).
2. Keep each fold's out-of-fold outputs: the scores (log-gaps for PAL, logits for BCE) and
   the label sets that its model's cardinality and prototype rules predict.
3. Score every candidate rule on those rows with the decision metric. Rules with tuned cuts
   are cross-fitted: each fold's rows are cut where the other two folds' rows say, so a rule
   with many parameters gets no optimism over parameter-free ones.
4. The best candidate wins (ties go to the one with fewer parameters) and is fitted for the
   final model, trained on all the data: a global PAL threshold is re-tuned on the final
   model's training outputs (as ``decision="threshold"`` does), per-label cuts and a tuned
   BCE cut-off on all out-of-fold rows, prototypes on the final model's training features.
"""

from __future__ import annotations

import functools
import warnings
from typing import NamedTuple

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit
from sklearn.base import clone

from ._cuts import apply_cuts, set_score, tune_global_cut, tune_label_cuts
from ._decision import TagwisePrototypes, default_rule, fit_rule
from ._sharing import map_folds

FOLDS = 3
#: Below this many samples (10 a fold) ``"auto"`` uses the loss's default rule.
MIN_SAMPLES = 30
#: The prototype rule is a candidate up to this many labels: it only won with few labels in
#: the measurements, and its fit grows with the number of labels (seconds on CAL500).
PROTOTYPE_MAX_LABELS = 20
#: Key of the out-of-fold outputs in :func:`fit_decision`'s result, when fold models ran.
OUT_OF_FOLD = "out_of_fold"
# Candidates in the order that breaks ties: fewer tuned parameters first.
_PREFERENCE = ("cardinality", "threshold", "tuned_threshold", "per_label", "prototype")


#: The fold models' optimizer steps, all together, at most this share of the final model's.
FOLD_STEP_SHARE = 0.15
#: Fewest rows the fold models cover (all, on smaller data) whatever the budget: fewer
#: epochs instead tuned per-label cuts that fit the final model worse (enron: 5 fold epochs
#: instead of 10 lost 0.020 test micro-F1, 3 seeds).
SELECTION_ROWS = 2500
#: Label cells (rows x labels) up to which folds come from iterative stratification.
ITERATIVE_CELLS = 1_000_000


def fold_epochs(max_epochs: int) -> int:
    """Epochs of the fold models before the budget: a quarter of ``max_epochs``, at least 5
    (at most all)."""
    return min(max_epochs, max(5, max_epochs // 4))


class FoldPlan(NamedTuple):
    """How many rows the fold models cover and how many epochs they train."""

    rows: int
    epochs: int


def fold_plan(n_rows: int, max_epochs: int, batch_size: int) -> FoldPlan:
    """Rows and epochs of the fold models, their steps within ``FOLD_STEP_SHARE`` of the
    final model's ``max_epochs * ceil(n_rows / batch_size)`` where the data allow.

    The fold models train :func:`fold_epochs` epochs on two folds of the rows they cover:
    all rows, or a random subsample that fits the budget, of at least ``SELECTION_ROWS``.

    Examples
    --------
    >>> from sklearn_mlabnc._selection import fold_plan
    >>> fold_plan(60_000, 40, 128)  # large data: a subsample
    FoldPlan(rows=17856, epochs=10)
    >>> fold_plan(1_500, 40, 128)  # small data: every row
    FoldPlan(rows=1500, epochs=10)
    """
    epochs = fold_epochs(max_epochs)
    budget = FOLD_STEP_SHARE * max_epochs * -(-n_rows // batch_size) / FOLDS  # a fold's
    fitting = int(budget // epochs) * batch_size * FOLDS // (FOLDS - 1)
    return FoldPlan(min(n_rows, max(SELECTION_ROWS, fitting)), epochs)


def stratified_split(Y, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, valid)`` row indices, ``valid`` holding ``fraction`` of the rows.

    Iterative stratification keeps each label's share about equal on both sides; then every
    label with at least two positives still missing from a side gets one moved over (a row
    whose other labels keep a positive where it leaves), so both sides see every such label.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._selection import stratified_split
    >>> Y = np.zeros((20, 2), dtype=int); Y[:2, 0] = 1; Y[2:, 1] = 1
    >>> train, valid = stratified_split(Y, 0.2, seed=0)
    >>> int(Y[train, 0].sum()), int(Y[valid, 0].sum()), len(valid)  # one row moved over
    (1, 1, 5)
    """
    Y = np.asarray(Y) > 0
    n = len(Y)
    n_valid = max(1, int(round(fraction * n)))
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_valid, random_state=seed)
    _, valid = next(splitter.split(np.zeros((n, 1)), Y.astype(int)))
    in_valid = np.zeros(n, dtype=bool)
    in_valid[valid] = True
    for k in np.argsort(Y.sum(axis=0), kind="stable"):  # rarest labels first
        if Y[:, k].sum() < 2:
            continue
        for side in (True, False):
            if Y[in_valid == side, k].any():
                continue
            donors = np.flatnonzero(Y[:, k] & (in_valid != side))
            left = Y[in_valid != side].sum(axis=0)  # positives on the donors' side
            safe = [i for i in donors if (left[Y[i]] >= 2).all()]
            if safe:
                in_valid[min(safe, key=lambda i: Y[i].sum())] = side
    return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)


def stratified_folds(Y, n_folds: int, seed: int) -> np.ndarray:
    """Fold number of each row: ``n_folds`` multi-label-stratified folds.

    Iterative stratification up to ``ITERATIVE_CELLS`` label cells; beyond, where it costs
    seconds, :func:`rarest_label_folds`.
    """
    if np.size(Y) > ITERATIVE_CELLS:
        return rarest_label_folds(Y, n_folds, seed)
    Y = (np.asarray(Y) > 0).astype(int)
    folds = np.empty(len(Y), dtype=int)
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, rows) in enumerate(splitter.split(np.zeros((len(Y), 1)), Y)):
        folds[rows] = fold
    return folds


def rarest_label_folds(Y, n_folds: int, seed: int) -> np.ndarray:
    """Fold number of each row, dealt in turn within groups of rows sharing a rarest label.

    Each row is grouped by its rarest positive label (rows without labels together), the
    groups are shuffled within and dealt round-robin into ``n_folds``: every label's
    positives that are rarest in their row split evenly, and fold sizes differ by at most
    one. It costs O(n·K), against iterative stratification's per-row passes over the labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._selection import rarest_label_folds
    >>> Y = np.zeros((9, 3), dtype=int); Y[:4, 0] = 1; Y[4:, 1] = 1; Y[1::3, 2] = 1
    >>> folds = rarest_label_folds(Y, 3, seed=0)
    >>> np.bincount(folds).tolist(), sorted(folds[1::3].tolist())  # label 2 in every fold
    ([3, 3, 3], [0, 1, 2])
    """
    Y = np.asarray(Y) > 0
    counts = Y.sum(axis=0)
    rarest = np.where(Y, counts, np.iinfo(counts.dtype).max).argmin(axis=1)
    rarest[~Y.any(axis=1)] = Y.shape[1]
    shuffled = np.random.default_rng(seed).permutation(len(Y))
    order = shuffled[np.argsort(rarest[shuffled], kind="stable")]
    folds = np.empty(len(Y), dtype=int)
    folds[order] = np.arange(len(Y)) % n_folds
    return folds


class OutOfFold(NamedTuple):
    """Outputs of the fold models on the rows they did not train on."""

    scores: np.ndarray  # (n, K) log-gaps (PAL) or logits (BCE)
    empty: np.ndarray  # (n,) rows whose background output wins
    folds: np.ndarray  # (n,) fold of each row
    label_sets: dict  # rule -> (n, K) bool, for the rules without cuts
    rows: np.ndarray | None = None  # the training rows covered (all when None), in order


def out_of_fold(estimator, X, Y, seed: int, with_prototypes: bool, epochs=None) -> OutOfFold:
    """Train the fold models (copies of ``estimator``, shorter) and gather their outputs.

    They cover the rows and train the epochs of :func:`fold_plan`; ``rows`` (sorted) says
    which rows when they are a subsample. ``epochs`` overrides the plan's epochs (the
    probability calibration's ``"full"`` fold models train as long as the final model).
    Under ``strategy="ddp"`` the processes share the fold models (see ``map_folds``).
    """
    independent = estimator.loss == "bce"
    plan = fold_plan(len(Y), estimator.max_epochs, estimator.batch_size)
    rows = None
    if plan.rows < len(Y):
        rows = np.sort(np.random.default_rng(seed).permutation(len(Y))[: plan.rows])
        X, Y = X[rows], Y[rows]
    folds = stratified_folds(Y, FOLDS, seed)
    scores, empty = np.zeros(Y.shape), np.zeros(len(Y), dtype=bool)
    rules = [] if independent else ["cardinality"] + ["prototype"] * with_prototypes
    label_sets = {rule: np.zeros(Y.shape, dtype=bool) for rule in rules}
    fold_outputs = functools.partial(
        _fold_outputs,
        estimator,
        X,
        Y,
        folds,
        seed,
        independent,
        with_prototypes,
        plan.epochs if epochs is None else epochs,
    )
    for fold, (fold_scores, sets) in enumerate(
        map_folds(estimator.strategy, fold_outputs, range(FOLDS))
    ):
        valid = folds == fold
        scores[valid] = fold_scores
        for rule, predicted in sets.items():
            label_sets[rule][valid] = predicted
        if "cardinality" in sets:  # the cardinality rule is empty only there
            empty[valid] = ~sets["cardinality"].any(axis=1)
    return OutOfFold(scores, empty, folds, label_sets, rows)


def _fold_outputs(estimator, X, Y, folds, seed, independent, with_prototypes, epochs, fold: int):
    """One fold model's out-of-fold scores and the label sets of the rules without cuts."""
    train, valid = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    model = clone(estimator).set_params(
        max_epochs=epochs,
        decision="threshold" if independent else "cardinality",
        early_stopping=False,
        warm_start=False,
        callbacks=None,
        collapse_every=None,
        compile=False,  # a compilation per fold would cost more than it saves
        strategy="single",
        calibration="off",  # only the final model's probabilities are calibrated
        verbose=0,
        random_state=seed + 1 + fold,
    )
    with warnings.catch_warnings():  # the final model gives the same warnings once
        warnings.simplefilter("ignore")
        model.fit(X[train], Y[train])
    out = model.network_outputs(X[valid])
    logits = out.logits.double().cpu().numpy()
    if independent:
        return logits, {}
    sets = {"cardinality": out.label_sets.cpu().numpy()}
    if with_prototypes:  # fitted to the rows the fold model trained on, as fit_rule does
        keep = train[Y[train].any(axis=1) | model.has_background_]
        # A looser tolerance than the final fit's: on CAL500 it changed no prediction
        # and cut the rounds from the 500 cap.
        prototypes = TagwisePrototypes().fit(model.transform(X[keep]), Y[keep], tol=1e-6)
        predicted = prototypes.predict(out.features, out.logits, model.multiplicities_)
        sets["prototype"] = predicted.cpu().numpy()
    return logits - logits.max(axis=1, keepdims=True), sets


def cross_fitted_scores(oof: OutOfFold, Y, metric: str, candidates, fixed_cut=None) -> dict:
    """``metric`` of each candidate on the out-of-fold rows, tuned cuts cross-fitted."""
    result = {}
    for rule in candidates:
        if rule in oof.label_sets:
            predicted = oof.label_sets[rule]
        elif rule == "threshold" and fixed_cut is not None:
            predicted = apply_cuts(oof.scores, oof.empty, fixed_cut)
        else:
            predicted = np.zeros(Y.shape, dtype=bool)
            for fold in np.unique(oof.folds):
                tune, held = oof.folds != fold, oof.folds == fold
                args = (oof.scores[tune], oof.empty[tune], Y[tune], metric)
                cut = tune_global_cut(*args)
                if rule == "per_label":
                    cut = tune_label_cuts(*args, start=cut)
                predicted[held] = apply_cuts(oof.scores[held], oof.empty[held], cut)
        result[rule] = set_score(Y, predicted, metric)
    return result


def choose(scores: dict) -> str:
    """The best-scoring rule; ties go to the one with fewer tuned parameters."""
    best = max(scores.values())
    return next(rule for rule in _PREFERENCE if scores.get(rule) == best)


def candidates(independent: bool, n_labels: int) -> list[str]:
    """The rules ``"auto"`` compares, for BCE (``independent``) or PAL."""
    if independent:
        return ["threshold", "tuned_threshold", "per_label"]
    return ["cardinality", "threshold", "per_label"] + ["prototype"] * (
        n_labels <= PROTOTYPE_MAX_LABELS
    )


def _fixed_cut(threshold, independent: bool):
    """The score cut of a given (or, for BCE, the default 0.5) threshold; None: tuned."""
    if independent:
        t = 0.5 if threshold is None else float(threshold)
        return np.inf if t >= 1 else float(np.log(t / (1 - t)))
    return None if threshold is None else float(np.log(threshold))


def _fractions(cuts, independent: bool):
    """Score cuts as thresholds: fractions of the top score (PAL) or sigmoid cut-offs."""
    cuts = np.asarray(cuts, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-cuts)) if independent else np.exp(cuts)


def fit_decision(estimator, X, Y, train, forward, seed: int, select: bool, multilabel: bool):
    """The fitted decision attributes of ``estimator``: ``decision_`` and what its rule needs.

    ``X, Y`` are all the training rows (``Y`` the indicator), for the fold models; ``train``
    the final model's training batches and ``forward(train)`` its outputs on them. ``select``
    is False in ``partial_fit``, where no fold models are trained. When fold models ran,
    their :class:`OutOfFold` outputs are under the key :data:`OUT_OF_FOLD` (not an attribute).
    """
    decision, metric = estimator.decision, estimator.decision_metric
    independent = estimator.loss == "bce"
    fitted = {"multiplicities_": np.unique(Y.sum(axis=1).astype(int))}
    if not multilabel:  # one class per sample: the rule is unused
        fixed = decision not in ("auto", "per_label")
        return {**fitted, "decision_": decision if fixed else default_rule(estimator.loss)}
    if decision in ("auto", "per_label") and select and len(Y) >= MIN_SAMPLES:
        with_prototypes = decision == "auto" and not independent
        with_prototypes &= Y.shape[1] <= PROTOTYPE_MAX_LABELS
        oof = out_of_fold(estimator, X, Y, seed, with_prototypes)
        fitted[OUT_OF_FOLD] = oof  # for the probability calibration; popped by the caller
        Y_oof = Y if oof.rows is None else Y[oof.rows]
        rule = decision
        if decision == "auto":
            options = candidates(independent, Y.shape[1])
            scores = cross_fitted_scores(
                oof, Y_oof, metric, options, _fixed_cut(estimator.threshold, independent)
            )
            rule = choose(scores)
            fitted["decision_scores_"] = scores
        if rule in ("per_label", "tuned_threshold"):
            cut = tune_global_cut(oof.scores, oof.empty, Y_oof, metric)
            if rule == "per_label":
                cuts = tune_label_cuts(oof.scores, oof.empty, Y_oof, metric, start=cut)
                fitted["label_thresholds_"] = _fractions(cuts, independent)
            else:
                fitted["threshold_"] = float(np.clip(_fractions(cut, True), 1e-12, 1.0))
                rule = "threshold"
    elif decision == "per_label":
        raise ValueError(
            f"decision='per_label' tunes its cuts on the outputs of {FOLDS} fold models that "
            f"fit trains, on at least {MIN_SAMPLES} samples (got {len(Y)}"
            f"{'' if select else ', in partial_fit'}); call fit with more data, or use "
            "decision='threshold'."
        )
    else:
        rule = default_rule(estimator.loss) if decision == "auto" else decision
    fitted["decision_"] = rule
    if "threshold_" not in fitted:
        threshold, prototypes = fit_rule(
            rule,
            threshold=estimator.threshold,
            independent=independent,
            outputs=lambda: forward(train),
            Y=train.Y[:, : estimator.n_labels_],
            has_background=estimator.has_background_,
            metric=metric,
        )
        if threshold is not None:
            fitted["threshold_"] = threshold
        if prototypes is not None:
            fitted["_prototypes"] = prototypes
    return fitted
