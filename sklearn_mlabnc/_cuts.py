"""Cut tuning: the global and per-label score cuts that maximise a label-set metric.

Scores are per (sample, label): the log-gap ``log p_k - log max_j p_j`` for PAL losses, the
logit for BCE. A cut ``c`` turns them into label sets (label k on when its score is ``>= c``,
nothing on for samples flagged empty). Every metric is "higher is better": ``"hamming"``
scores ``1 - Hamming loss``. A sample (or, for ``"f1_macro"``, a label) with no true and no
predicted label scores 1, as scikit-learn's metrics do with ``zero_division=1``.

Every tuner costs O(n·K log n) or less: the global cut for micro-F1 and Hamming sorts only
the top scores that can still win, the other metrics count the predictions of all their
candidate cuts in one pass over the binned scores, and each label's cut sorts its own column
once and sees the other labels through running totals. The cuts are exactly those of the
direct search over the same candidates.
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


def _first_best(values, tolerance: float = 0.0) -> int:
    """Index of the first value within ``tolerance`` of the largest."""
    values = np.asarray(values, dtype=np.float64)
    return int(np.flatnonzero(values >= values.max() - tolerance)[0])


# Per-sample metrics are means of n ratios, whose rounding depends on the order of the sum:
# values this close count as ties, so that the first (the current cut) wins either way.
_MEAN_TIES = 1e-12


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
    return _sorted_candidates(np.sort(values, axis=None), n_max)


def _sorted_candidates(ordered, n_max: int) -> np.ndarray:
    """:func:`_candidates` of values already sorted in ascending order (no second sort)."""
    finite = ordered[np.isfinite(ordered)]
    if len(finite) == 0:
        return np.zeros(1)
    distinct = np.ones(len(finite), dtype=bool)
    distinct[1:] = finite[1:] != finite[:-1]
    values = finite[distinct]
    if len(values) > n_max:
        values = np.unique(np.quantile(values, np.linspace(0, 1, n_max)))
    middles = 0.5 * (values[1:] + values[:-1])
    return np.concatenate([middles, [values[0] - 1.0, values[-1] + 1e-9]])


def _micro_f1_bound(n_true: int, f1: float) -> int | None:
    """Predictions beyond which micro-F1 stays below ``f1``: it is at most
    ``2 n_true / (n_pred + n_true)``."""
    return None if f1 <= 0 else int(np.ceil(n_true * (2 / f1 - 1))) + 1


class _TopScores:
    """The top scores of the non-empty rows, sorted, with their truths; the rest unsorted.

    One partition of a copy of the scores finds how low the kept scores go; only the kept
    ones (ties included) are gathered and sorted.
    """

    def __init__(self, scores, empty, Y):
        self.scores, self.empty, self.Y = scores, empty, Y
        self.pool = scores[~empty].ravel()  # partitioned in place, stage after stage
        self.lowest = None

    def top(self, keep: int):
        """``(scores, truths)`` of the top ``keep`` (and tied) entries, descending; None
        when that is every entry or they are not all finite."""
        kth = len(self.pool) - (keep + 1)
        if kth <= 0:
            return None
        self.pool.partition(kth)
        self.lowest, self.kth = self.pool[kth], kth
        if not np.isfinite(self.lowest):
            return None
        chosen = self.scores >= self.lowest
        chosen[self.empty] = False
        where = np.flatnonzero(chosen)
        values, truth = self.scores.ravel()[where], self.Y.ravel()[where]
        order = np.argsort(-values)  # only the ends of runs of ties matter: any order will do
        return values[order], truth[order]

    def next_lower(self) -> float:
        """The highest score below the kept ones (-inf if none)."""
        rest = self.pool[: self.kth]
        return float(np.max(rest, where=rest < self.lowest, initial=-np.inf))


def _sorted_scores(scores, empty, Y, n_true: int, metric: str):
    """What :func:`tune_global_cut` sorts: ``(scores, truths, rest)``, the scores
    descending with empty rows' at ``-inf``; ``rest`` (a :class:`_TopScores`) when only the
    top scores are kept, else None.

    No cut predicting more than ``2 n_true`` beats predicting nothing under Hamming. Under
    micro-F1, the best cut among the top ``2 n_true`` scores bounds how many predictions a
    better cut can make (:func:`_micro_f1_bound`), and only that many are sorted.
    """
    rest = _TopScores(scores, empty, Y)
    top = rest.top(max(2 * n_true, 1))
    if top is not None and metric == "f1_micro":
        values = top[0]
        f1 = 2 * np.cumsum(top[1]) / (np.arange(1, len(values) + 1) + n_true)
        cut_ends = np.append(values[:-1] > values[1:], True)  # the counts a cut can give
        keep = _micro_f1_bound(n_true, float(f1[cut_ends].max()))
        if keep is None:
            top = None
        elif keep > len(values):
            top = rest.top(keep)
    if top is not None:
        return top[0], top[1], rest
    flat = np.where(empty[:, None], -np.inf, scores).ravel()
    order = np.argsort(-flat, kind="stable")
    return flat[order], Y.ravel()[order], None


def tune_global_cut(scores, empty, Y, metric: str = "f1_micro") -> float:
    """The one cut on ``scores`` maximising ``metric`` of :func:`apply_cuts` against ``Y``.

    Micro-F1 and Hamming depend only on the counts of true positives and of predictions,
    which one sort of the (sample, label) scores gives for every cut: the optimum is exact
    (the midpoint between the two scores it separates), and only the top scores that a
    winning cut can keep are sorted. Other metrics try up to 200
    cuts, all counted in one pass over the scores binned between the cuts.

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
        values = _global_values(scores, empty, Y, cuts, metric)
        return float(cuts[_first_best(values, 0.0 if metric == "f1_macro" else _MEAN_TIES)])
    n_true = int(np.count_nonzero(Y))
    flat, truth, rest = _sorted_scores(scores, empty, Y, n_true, metric)
    true_pos = np.cumsum(truth)
    n_pred = np.arange(1, len(flat) + 1)
    if metric == "f1_micro":
        values = 2 * true_pos / (n_pred + n_true)
    else:  # fewer errors: false positives + false negatives
        values = -((n_pred - true_pos) + (n_true - true_pos))
    valid = np.ones(len(flat), bool)  # a cut only fits between distinct scores
    valid[:-1] = flat[:-1] > flat[1:]
    valid &= np.isfinite(flat)
    if not valid.any():  # every sample is empty: nothing to tune
        return 0.0
    best = int(np.argmax(np.where(valid, values, -np.inf)))
    none_on = values[best] < (0.0 if metric == "f1_micro" else -n_true)
    if none_on:  # predicting nothing beats every cut (Hamming on very sparse labels)
        return float(flat[0] + 1.0) if np.isfinite(flat[0]) else 0.0
    upper = flat[best]
    if best + 1 < len(flat):
        lower = flat[best + 1]
    else:  # below the last kept score: the next one down, if any
        lower = upper - 1.0 if rest is None else rest.next_lower()
    return float(0.5 * (upper + lower)) if np.isfinite(lower) else float(upper - 1.0)


def _global_values(scores, empty, Y, cuts, metric: str) -> np.ndarray:
    """``set_score`` of every cut in ``cuts``, from per-row (or per-label) counts of the
    predictions and hits of each cut, binned in one pass: O(n·K log len(cuts))."""
    order = np.argsort(cuts, kind="stable")
    n_cuts = len(cuts)
    # A score is on for the cuts (in ascending order) before its bin.
    bins = np.searchsorted(cuts[order], scores, side="right")
    bins[empty] = 0
    axis = 0 if metric == "f1_macro" else 1
    groups = np.broadcast_to(
        np.arange(scores.shape[1 - axis])[:, None] if axis else np.arange(scores.shape[1]),
        scores.shape,
    )
    index = groups * (n_cuts + 1) + bins
    size = scores.shape[1 - axis] * (n_cuts + 1)
    shape = (scores.shape[1 - axis], n_cuts + 1)
    predicted = np.bincount(index.ravel(), minlength=size).reshape(shape)
    hits = np.bincount(index[Y].ravel(), minlength=size).reshape(shape)
    # Counts of cut j: every bin above j; kept cut-major so each cut's counts are contiguous.
    predicted = np.ascontiguousarray(np.cumsum(predicted[:, ::-1], axis=1)[:, ::-1][:, 1:].T)
    hits = np.ascontiguousarray(np.cumsum(hits[:, ::-1], axis=1)[:, ::-1][:, 1:].T)
    true = Y.sum(axis)
    values = np.empty(n_cuts)
    for j, cut in enumerate(order):
        total = predicted[j] + true
        if metric == "jaccard_samples":
            values[cut] = np.mean(_ratio(hits[j], total - hits[j]))
        else:
            values[cut] = np.mean(_ratio(2 * hits[j], total))
    return values


def tune_label_cuts(
    scores, empty, Y, metric: str = "f1_micro", start: float | None = None, min_positives=3
) -> np.ndarray:
    """One cut per label: from the global cut, one pass of coordinate ascent on ``metric``.

    Labels with fewer than ``min_positives`` positives keep the global cut (``start``, tuned
    by :func:`tune_global_cut` when ``None``): a cut fitted to one or two samples is noise.
    Each label sorts its own column once; the other labels enter through running totals.

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
    tuner = (_CountTotals if metric in _COUNTED else _RowTotals)(scores, empty, Y, cuts, metric)
    kept = scores[~empty]
    kept_truth = Y[~empty]
    for k in np.flatnonzero(Y.sum(0) >= min_positives):
        column = kept[:, k]
        ordered = np.sort(column)
        # The current cut first, so that a tie keeps it.
        options = np.concatenate([[cuts[k]], _sorted_candidates(ordered, _LABEL_CUTS)])
        cuts[k] = options[tuner.choose(int(k), options, ordered, column[kept_truth[:, k]])]
    return cuts


# Metrics whose value depends on each label only through its counts of hits and predictions.
_COUNTED = ("f1_micro", "f1_macro", "hamming")


class _CountTotals:
    """Running totals for :func:`tune_label_cuts` under a metric of counts."""

    def __init__(self, scores, empty, Y, cuts, metric):
        P = apply_cuts(scores, empty, cuts)
        self.metric = metric
        self.label_pred, self.label_hits = P.sum(0), (Y & P).sum(0)
        self.label_true = Y.sum(0)
        self.total_pred, self.total_hits = int(self.label_pred.sum()), int(self.label_hits.sum())
        self.n_true = int(self.label_true.sum())

    def choose(self, k, options, ordered, positives) -> int:
        """Index of the best option for label ``k`` (the first of ties); updates the totals."""
        predicted = len(ordered) - np.searchsorted(ordered, options, side="left")
        hits = len(positives) - np.searchsorted(np.sort(positives), options, side="left")
        if self.metric == "hamming":  # the other labels' errors do not move
            values = -(self.label_true[k] + predicted - 2 * hits)
        elif self.metric == "f1_macro":  # nor do the other labels' F1
            values = _ratio(2 * hits, predicted + self.label_true[k])
        else:
            rest_hits = self.total_hits - self.label_hits[k]
            rest_pred = self.total_pred - self.label_pred[k]
            values = _ratio(2 * (rest_hits + hits), rest_pred + predicted + self.n_true)
        best = int(np.argmax(values))
        self.total_pred += int(predicted[best]) - int(self.label_pred[k])
        self.total_hits += int(hits[best]) - int(self.label_hits[k])
        self.label_pred[k], self.label_hits[k] = predicted[best], hits[best]
        return best


class _RowTotals:
    """Running per-row totals for :func:`tune_label_cuts` under a per-sample metric."""

    def __init__(self, scores, empty, Y, cuts, metric):
        self.scores, self.kept, self.Y, self.metric = scores, ~empty, Y, metric
        self.P = apply_cuts(scores, empty, cuts)
        self.row_hits = (Y & self.P).sum(1)
        self.row_rest = self.P.sum(1) + Y.sum(1)  # predictions + truths

    def choose(self, k, options, ordered, positives) -> int:
        """Index of the best option for label ``k`` (the first of ties); updates the totals."""
        y_k, p_k = self.Y[:, k], self.P[:, k]
        columns = (self.scores[:, k, None] >= options[None, :]) & self.kept[:, None]
        row_hits = (self.row_hits - (y_k & p_k))[:, None] + (y_k[:, None] & columns)
        row_total = (self.row_rest - p_k)[:, None] + columns
        if self.metric == "jaccard_samples":
            values = _ratio(row_hits, row_total - row_hits).mean(0)
        else:
            values = _ratio(2 * row_hits, row_total).mean(0)
        best = _first_best(values, _MEAN_TIES)
        self.row_hits, self.row_rest = row_hits[:, best], row_total[:, best]
        self.P[:, k] = columns[:, best]
        return best
