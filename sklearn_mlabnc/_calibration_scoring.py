"""Calibration metrics of per-label probabilities, and their scikit-learn scorers.

Each label is a binary problem with its own probability; the metrics average over all
(sample, label) entries, so every label weighs by its number of samples:

- :func:`per_label_brier_score`: mean of :math:`(p_{ik} - y_{ik})^2`;
- :func:`per_label_log_loss`: mean binary cross-entropy, probabilities clipped to
  :math:`[\\epsilon, 1 - \\epsilon]` (machine epsilon, as :func:`sklearn.metrics.log_loss`);
- :func:`expected_calibration_error`: the gap between the mean probability and the
  frequency of positives in equal-width probability bins, weighted by the bins' sizes, over
  all entries pooled (``average="pooled"``) or label by label then averaged (``"macro"``).

All three are "lower is better"; the scorers negate them (scikit-learn's convention).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "CALIBRATION_SCORERS",
    "ece_scorer",
    "expected_calibration_error",
    "log_loss_scorer",
    "per_label_brier_score",
    "per_label_log_loss",
    "brier_scorer",
]


def _check(Y, P) -> tuple[np.ndarray, np.ndarray]:
    """``Y`` (0/1) and ``P`` (in [0, 1]) as float arrays of one shape, 1-D made a column."""
    Y = np.asarray(Y.toarray() if hasattr(Y, "toarray") else Y, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    Y, P = (Y[:, None] if Y.ndim == 1 else Y), (P[:, None] if P.ndim == 1 else P)
    if Y.shape != P.shape:
        raise ValueError(f"y_true has shape {Y.shape} but y_prob has shape {P.shape}.")
    if not np.isin(Y, (0, 1)).all():
        raise ValueError("y_true must be a 0/1 label indicator (or 0/1 binary labels).")
    if not np.isfinite(P).all() or (P < 0).any() or (P > 1).any():
        raise ValueError("y_prob must hold probabilities in [0, 1] (use predict_proba).")
    return Y, P


@validate_params({"y_true": ["array-like", "sparse matrix"], "y_prob": ["array-like"]},
                 prefer_skip_nested_validation=True)  # fmt: skip
def per_label_brier_score(y_true, y_prob) -> float:
    """Mean squared difference between each label's probability and its 0/1 truth.

    Parameters
    ----------
    y_true : array-like or sparse matrix of shape (n_samples, n_labels) or (n_samples,)
        0/1 label indicator.
    y_prob : array-like of the same shape
        Probability of each label (``predict_proba``).

    Returns
    -------
    float
        In [0, 1]; lower is better. A constant ``p`` scores ``p^2`` where no label is on.

    Examples
    --------
    >>> from sklearn_mlabnc.scorers import per_label_brier_score
    >>> per_label_brier_score([[1, 0], [0, 0]], [[0.5, 0.0], [0.5, 0.0]])
    0.125
    """
    Y, P = _check(y_true, y_prob)
    return float(np.mean((P - Y) ** 2))


@validate_params({"y_true": ["array-like", "sparse matrix"], "y_prob": ["array-like"]},
                 prefer_skip_nested_validation=True)  # fmt: skip
def per_label_log_loss(y_true, y_prob) -> float:
    """Mean binary cross-entropy of each label's probability against its 0/1 truth.

    Parameters
    ----------
    y_true : array-like or sparse matrix of shape (n_samples, n_labels) or (n_samples,)
        0/1 label indicator.
    y_prob : array-like of the same shape
        Probability of each label, clipped to ``[eps, 1 - eps]`` (float64 machine epsilon).

    Returns
    -------
    float
        Non-negative; lower is better. A confident wrong 0 or 1 costs about 36.

    Examples
    --------
    >>> from sklearn_mlabnc.scorers import per_label_log_loss
    >>> round(per_label_log_loss([[1, 0]], [[0.5, 0.5]]), 4)  # log 2
    0.6931
    """
    Y, P = _check(y_true, y_prob)
    eps = np.finfo(np.float64).eps
    P = np.clip(P, eps, 1 - eps)
    return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log1p(-P)))


def _ece(y: np.ndarray, p: np.ndarray, n_bins: int) -> float:
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    gap = np.bincount(bins, weights=p - y, minlength=n_bins)  # sum of (p - y) per bin
    return float(np.abs(gap).sum() / max(len(p), 1))


@validate_params(
    {
        "y_true": ["array-like", "sparse matrix"],
        "y_prob": ["array-like"],
        "n_bins": [Interval(numbers.Integral, 1, None, closed="left")],
        "average": [StrOptions({"pooled", "macro"})],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(y_true, y_prob, *, n_bins: int = 10, average: str = "pooled"):
    """Expected calibration error: bin-size-weighted gap of mean probability and frequency.

    Entries are put in ``n_bins`` equal-width bins of their probability; in each bin the
    absolute difference of the mean probability and the fraction of positives is weighted
    by the bin's share of entries. ``"pooled"`` bins all (sample, label) entries together
    (the pooled reliability diagram); ``"macro"`` computes it per label and averages.

    Parameters
    ----------
    y_true : array-like or sparse matrix of shape (n_samples, n_labels) or (n_samples,)
        0/1 label indicator.
    y_prob : array-like of the same shape
        Probability of each label.
    n_bins : int, default=10
        Equal-width bins on [0, 1] (1 is put in the last bin).
    average : {"pooled", "macro"}, default="pooled"
        Over all entries at once, or the mean of the labels' errors.

    Returns
    -------
    float
        In [0, 1]; 0 for perfectly calibrated probabilities.

    Examples
    --------
    >>> from sklearn_mlabnc.scorers import expected_calibration_error
    >>> expected_calibration_error([[1], [0], [1], [1]], [[0.75], [0.75], [0.75], [0.75]])
    0.0
    >>> expected_calibration_error([[1], [0]], [[0.9], [0.9]])  # says 0.9, is right half the time
    0.4
    """
    Y, P = _check(y_true, y_prob)
    if average == "pooled":
        return _ece(Y.ravel(), P.ravel(), n_bins)
    return float(np.mean([_ece(Y[:, k], P[:, k], n_bins) for k in range(Y.shape[1])]))


def _label_probabilities(estimator: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """0/1 truth and probabilities of ``estimator`` on ``X``, in the shape of an indicator.

    1-D targets are one-hot encoded in the order of ``estimator.classes_``; a list of
    per-label ``(n, 2)`` arrays (scikit-learn's multi-output forests) becomes the
    probability of each label's class 1.
    """
    P = estimator.predict_proba(X)
    if isinstance(P, list):  # one (n, n_classes) array per label
        classes = estimator.classes_
        P = np.stack(
            [
                p[:, list(c).index(1)] if 1 in c else np.zeros(len(p))
                for p, c in zip(P, classes, strict=True)
            ],
            axis=1,
        )
    y = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
    if y.ndim == 1:
        y = (y[:, None] == np.asarray(estimator.classes_)[None, :]).astype(np.float64)
    return y, np.asarray(P, dtype=np.float64)


class _CalibrationScorer:
    """``scorer(estimator, X, y)``: minus a calibration metric of ``predict_proba``."""

    def __init__(self, metric, name: str) -> None:
        self._metric, self._name = metric, name

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        return -self._metric(*_label_probabilities(estimator, X, y))

    def __repr__(self) -> str:
        return f"<calibration scorer: neg_{self._name}>"


_SCORER_DOC = """Minus the {what} of ``predict_proba``: a scorer for ``GridSearchCV``.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.model_selection import cross_validate
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_mlabnc.scorers import {variable}
    >>> X, Y = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    >>> scores = cross_validate(KNeighborsClassifier(), X, Y, cv=3, scoring={variable})
    >>> bool((scores["test_score"] <= 0).all())
    True
    """


def _ready(metric, name: str, what: str, variable: str) -> _CalibrationScorer:
    scorer = _CalibrationScorer(metric, name)
    scorer.__doc__ = _SCORER_DOC.format(what=what, variable=variable)
    return scorer


brier_scorer = _ready(per_label_brier_score, "per_label_brier", "per-label Brier score",
                      "brier_scorer")  # fmt: skip
log_loss_scorer = _ready(per_label_log_loss, "per_label_log_loss", "per-label log-loss",
                         "log_loss_scorer")  # fmt: skip
ece_scorer = _ready(expected_calibration_error, "ece", "expected calibration error (pooled)",
                    "ece_scorer")  # fmt: skip

#: The calibration scorers by name, for ``scoring=`` (negated: greater is better).
CALIBRATION_SCORERS: dict[str, _CalibrationScorer] = {
    "neg_per_label_brier": brier_scorer,
    "neg_per_label_log_loss": log_loss_scorer,
    "neg_ece": ece_scorer,
}

# Run the ready-made scorers' examples with ``pytest --doctest-modules``.
__test__ = {f"{name}.__doc__": s.__doc__ for name, s in CALIBRATION_SCORERS.items()}
