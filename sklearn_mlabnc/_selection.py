"""Choosing the decision rule from the data: stratified folds, out-of-fold outputs, cross-fitting.

What ``decision="auto"`` does (the user guide's decision-rules page has the measurements):

1. Split the training data into 3 multi-label-stratified folds (iterative stratification, so
   rare labels fall on every side) and train a short model on each two folds: the
   estimator's own settings with ``max_epochs`` cut to ``max(5, max_epochs // 4)``.
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


def fold_epochs(max_epochs: int) -> int:
    """Epochs of the fold models: a quarter of ``max_epochs``, at least 5 (at most all)."""
    return min(max_epochs, max(5, max_epochs // 4))


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
    """Fold number of each row: ``n_folds`` multi-label-stratified folds."""
    Y = (np.asarray(Y) > 0).astype(int)
    folds = np.empty(len(Y), dtype=int)
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, rows) in enumerate(splitter.split(np.zeros((len(Y), 1)), Y)):
        folds[rows] = fold
    return folds


class OutOfFold(NamedTuple):
    """Outputs of the fold models on the rows they did not train on."""

    scores: np.ndarray  # (n, K) log-gaps (PAL) or logits (BCE)
    empty: np.ndarray  # (n,) rows whose background output wins
    folds: np.ndarray  # (n,) fold of each row
    label_sets: dict  # rule -> (n, K) bool, for the rules without cuts


def out_of_fold(estimator, X, Y, seed: int, with_prototypes: bool, epochs=None) -> OutOfFold:
    """Train the fold models (copies of ``estimator``, shorter) and gather their outputs.

    Under ``strategy="ddp"`` the processes share the fold models (see ``map_folds``).
    ``epochs`` overrides the fold models' :func:`fold_epochs` (the probability calibration
    trains them as long as the final model).
    """
    independent = estimator.loss == "bce"
    folds = stratified_folds(Y, FOLDS, seed)
    scores, empty = np.zeros(Y.shape), np.zeros(len(Y), dtype=bool)
    rules = [] if independent else ["cardinality"] + ["prototype"] * with_prototypes
    label_sets = {rule: np.zeros(Y.shape, dtype=bool) for rule in rules}
    fold_outputs = functools.partial(
        _fold_outputs, estimator, X, Y, folds, seed, independent, with_prototypes, epochs
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
    return OutOfFold(scores, empty, folds, label_sets)


def _fold_outputs(estimator, X, Y, folds, seed, independent, with_prototypes, epochs, fold: int):
    """One fold model's out-of-fold scores and the label sets of the rules without cuts."""
    train, valid = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    model = clone(estimator).set_params(
        max_epochs=fold_epochs(estimator.max_epochs) if epochs is None else epochs,
        decision="threshold" if independent else "cardinality",
        early_stopping=False,
        warm_start=False,
        callbacks=None,
        collapse_every=None,
        compile=False,  # a compilation per fold would cost more than it saves
        strategy="single",
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
        rule = decision
        if decision == "auto":
            options = candidates(independent, Y.shape[1])
            scores = cross_fitted_scores(
                oof, Y, metric, options, _fixed_cut(estimator.threshold, independent)
            )
            rule = choose(scores)
            fitted["decision_scores_"] = scores
        if rule in ("per_label", "tuned_threshold"):
            cut = tune_global_cut(oof.scores, oof.empty, Y, metric)
            if rule == "per_label":
                cuts = tune_label_cuts(oof.scores, oof.empty, Y, metric, start=cut)
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
