"""Cut tuning: the global and per-label score cuts that maximise a label-set metric.

Scores are per (sample, label): the log-gap ``log p_k - log max_j p_j`` for PAL losses, the
logit for BCE. A cut ``c`` turns them into label sets (label k on when its score is ``>= c``,
nothing on for samples flagged empty). Every metric is "higher is better": ``"hamming"``
scores ``1 - Hamming loss``. A sample (or, for ``"f1_macro"``, a label) with no true and no
predicted label scores 1, as scikit-learn's metrics do with ``zero_division=1``.
"""

from __future__ import annotations

import numpy as np

#: The metrics ``decision_metric`` may name.
METRICS = ("f1_micro", "f1_samples", "f1_macro", "hamming", "jaccard_samples")

# Cuts tried: at most this many between distinct score values (quantiles beyond), for the
# global cut under metrics without an exact one-sort solution and for each label's cut.
_GLOBAL_CUTS = 200
_LABEL_CUTS = 60


def _ratio(numerator, denominator):
    """``numerator / denominator``, 1 where both are 0 (nothing true, nothing predicted)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 1.0)


def set_score(Y, P, metric: str) -> float:
    """``metric`` of the predicted label sets ``P`` against ``Y`` (both 0/1, ``(n, K)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._cuts import set_score
    >>> Y = np.array([[1, 0], [1, 1]])
    >>> set_score(Y, np.array([[1, 0], [1, 0]]), "f1_micro")
    0.8
    """
    Y, P = np.asarray(Y) > 0, np.asarray(P) > 0
    if metric == "hamming":
        return float(1.0 - np.mean(Y != P))
    tp = Y & P
    if metric == "f1_micro":
        return float(_ratio(2 * tp.sum(), P.sum() + Y.sum()))
    axis = 0 if metric == "f1_macro" else 1
    hits, total = tp.sum(axis), P.sum(axis) + Y.sum(axis)
    if metric == "jaccard_samples":
        return float(np.mean(_ratio(hits, total - hits)))
    return float(np.mean(_ratio(2 * hits, total)))


def apply_cuts(scores, empty, cuts) -> np.ndarray:
    """Label sets from ``scores`` cut at ``cuts`` (a scalar, or one per label)."""
    return (scores >= cuts) & ~np.asarray(empty, bool)[:, None]


def _candidates(values, n_max: int) -> np.ndarray:
    """Cuts between distinct finite ``values`` (``n_max`` quantiles beyond), and outside them."""
    values = np.unique(values[np.isfinite(values)])
    if len(values) == 0:
        return np.zeros(1)
    if len(values) > n_max:
        values = np.unique(np.quantile(values, np.linspace(0, 1, n_max)))
    middles = 0.5 * (values[1:] + values[:-1])
    return np.concatenate([middles, [values[0] - 1.0, values[-1] + 1e-9]])


def tune_global_cut(scores, empty, Y, metric: str = "f1_micro") -> float:
    """The one cut on ``scores`` maximising ``metric`` of :func:`apply_cuts` against ``Y``.

    Micro-F1 and Hamming depend only on the counts of true positives and of predictions,
    which one sort of all (sample, label) scores gives for every cut: the optimum is exact
    (the midpoint between the two scores it separates). Other metrics try up to 200 cuts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._cuts import tune_global_cut
    >>> scores = np.array([[0.0, -0.2, -3.0], [0.0, -2.5, -0.1]])
    >>> Y = np.array([[1, 1, 0], [1, 0, 1]])
    >>> float(np.round(tune_global_cut(scores, np.zeros(2, bool), Y), 3))
    -1.35
    """
    scores = np.asarray(scores, np.float64)
    Y = np.asarray(Y) > 0
    empty = np.asarray(empty, bool)
    if metric not in ("f1_micro", "hamming"):
        cuts = _candidates(scores[~empty].ravel(), _GLOBAL_CUTS)
        values = [set_score(Y, apply_cuts(scores, empty, c), metric) for c in cuts]
        return float(cuts[int(np.argmax(values))])
    flat = np.where(empty[:, None], -np.inf, scores).ravel()
    order = np.argsort(-flat, kind="stable")
    flat, truth = flat[order], Y.ravel()[order]
    true_pos = np.cumsum(truth)
    n_pred = np.arange(1, len(flat) + 1)
    if metric == "f1_micro":
        values = 2 * true_pos / (n_pred + truth.sum())
    else:  # fewer errors: false positives + false negatives
        values = -((n_pred - true_pos) + (truth.sum() - true_pos))
    valid = np.ones(len(flat), bool)  # a cut only fits between distinct scores
    valid[:-1] = flat[:-1] > flat[1:]
    valid &= np.isfinite(flat)
    if not valid.any():  # every sample is empty: nothing to tune
        return 0.0
    best = int(np.argmax(np.where(valid, values, -np.inf)))
    none_on = values[best] < (0.0 if metric == "f1_micro" else -truth.sum())
    if none_on:  # predicting nothing beats every cut (Hamming on very sparse labels)
        return float(flat[0] + 1.0) if np.isfinite(flat[0]) else 0.0
    upper = flat[best]
    lower = flat[best + 1] if best + 1 < len(flat) else upper - 1.0
    return float(0.5 * (upper + lower)) if np.isfinite(lower) else float(upper - 1.0)


def _column_values(Y, P, k: int, options, metric: str) -> np.ndarray:
    """``metric`` for each candidate column ``options[:, j]`` replacing column ``k`` of ``P``."""
    y_k = Y[:, k : k + 1]
    hits = (y_k & options).sum(0)
    if metric == "hamming":  # the other labels' errors do not move
        return -(y_k != options).sum(0)
    if metric == "f1_macro":  # nor do the other labels' F1
        return _ratio(2 * hits, options.sum(0) + y_k.sum())
    if metric == "f1_micro":
        rest_hits = (Y & P).sum() - (Y[:, k] & P[:, k]).sum()
        rest_pred = P.sum() - P[:, k].sum()
        return _ratio(2 * (rest_hits + hits), rest_pred + options.sum(0) + Y.sum())
    row_hits = ((Y & P).sum(1) - (Y[:, k] & P[:, k]))[:, None] + (y_k & options)
    row_total = (P.sum(1) - P[:, k] + Y.sum(1))[:, None] + options
    if metric == "jaccard_samples":
        return _ratio(row_hits, row_total - row_hits).mean(0)
    return _ratio(2 * row_hits, row_total).mean(0)


def tune_label_cuts(
    scores, empty, Y, metric: str = "f1_micro", start: float | None = None, min_positives=3
) -> np.ndarray:
    """One cut per label: from the global cut, one pass of coordinate ascent on ``metric``.

    Labels with fewer than ``min_positives`` positives keep the global cut (``start``, tuned
    by :func:`tune_global_cut` when ``None``): a cut fitted to one or two samples is noise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._cuts import tune_label_cuts
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.random((200, 2)) < 0.5
    >>> scores = np.where(Y, 1.0, 0.0) + [0.0, -2.0] + 0.1 * rng.normal(size=(200, 2))
    >>> cuts = tune_label_cuts(scores, np.zeros(200, bool), Y)
    >>> bool(0 < cuts[0] < 1 and -2 < cuts[1] < -1)
    True
    """
    scores = np.asarray(scores, np.float64)
    Y = np.asarray(Y) > 0
    empty = np.asarray(empty, bool)
    if start is None:
        start = tune_global_cut(scores, empty, Y, metric)
    cuts = np.full(Y.shape[1], float(start))
    P = apply_cuts(scores, empty, cuts)
    for k in np.flatnonzero(Y.sum(0) >= min_positives):
        # The current cut first, so that a tie keeps it.
        options = np.concatenate([[cuts[k]], _candidates(scores[~empty, k], _LABEL_CUTS)])
        columns = (scores[:, k, None] >= options[None, :]) & ~empty[:, None]
        best = int(np.argmax(_column_values(Y, P, int(k), columns, metric)))
        cuts[k], P[:, k] = options[best], columns[:, best]
    return cuts
