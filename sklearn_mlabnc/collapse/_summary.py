"""The frozen summary of collapse statistics, and the quantities every metric derives from it.

A :class:`CollapseSummary` is what :meth:`CollapseStatistics.summary` hands to the metric
functions: canonical-order per-label-set counts and feature sums (relative to a fixed
shift) and the two symmetrised scatter matrices. The derived quantities shared by several
metrics (which label set is each label's singleton, the three global-mean conventions, the
singleton means and the rounding-noise floor) are defined here once.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EPS",
    "GLOBAL_MEANS",
    "CollapseSummary",
    "global_mean_of",
    "noise_floor",
    "require_singletons",
    "singleton_index",
    "singleton_means",
    "warn_nan",
    "zero_noise_rows",
]

EPS = np.finfo(np.float64).eps
GLOBAL_MEANS = ("weighted", "class_means", "paper")


@dataclass(frozen=True)
class CollapseSummary:
    """Canonical-order sufficient statistics of features grouped by label set (immutable).

    Sums and scatters are relative to ``shift`` (see :class:`CollapseStatistics`).

    Attributes
    ----------
    n_labels, n_features, n_samples : int
        ``K``, ``d`` and the number of rows seen.
    shift : ndarray of shape (d,)
        The shift the sums and scatters are taken relative to.
    label_sets : ndarray of shape (S, K), dtype=bool
        Observed label sets, sorted by multiplicity then labels.
    multiplicities, counts : ndarray of shape (S,), dtype=int64
        Size and number of samples of each label set.
    sums : ndarray of shape (S, d)
        Feature sum per label set, relative to ``shift``.
    scatter_single, scatter_multi : ndarray of shape (d, d)
        ``sum (h - shift)(h - shift)^T`` over the multiplicity-1 samples, and over the
        samples of multiplicity >= 2.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import CollapseStatistics
    >>> s = CollapseStatistics().partial_fit(np.eye(2), np.eye(2, dtype=int)).summary()
    >>> s.n_labels, s.counts.tolist(), s.means.tolist()
    (2, [1, 1], [[1.0, 0.0], [0.0, 1.0]])
    """

    n_labels: int
    n_features: int
    n_samples: int
    shift: np.ndarray
    label_sets: np.ndarray
    multiplicities: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    scatter_single: np.ndarray
    scatter_multi: np.ndarray

    @property
    def means(self) -> np.ndarray:
        """Mean feature per label set (absolute, not relative to the shift)."""
        return self.shift + self.sums / self.counts[:, None]


def warn_nan(msg: str) -> None:
    """Warn that a metric is NaN (or degraded) for the reason ``msg``."""
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


def singleton_index(s: CollapseSummary) -> np.ndarray:
    """Index (in the canonical order) of the set {k} for each label k, -1 if unseen.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import CollapseStatistics
    >>> from sklearn_mlabnc.collapse._summary import singleton_index
    >>> Y = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 0]])
    >>> singleton_index(CollapseStatistics().partial_fit(np.eye(3), Y).summary()).tolist()
    [0, 1, -1]
    """
    idx = np.full(s.n_labels, -1, dtype=np.intp)
    single = np.flatnonzero(s.multiplicities == 1)
    idx[np.argmax(s.label_sets[single], axis=1)] = single
    return idx


def require_singletons(s: CollapseSummary, what: str) -> np.ndarray | None:
    """:func:`singleton_index`, or None with a warning when a label is never seen alone."""
    idx = singleton_index(s)
    missing = np.flatnonzero(idx < 0)
    if missing.size:
        shown = missing[:10].tolist()
        more = "..." if missing.size > 10 else ""
        warn_nan(
            f"{what} is NaN: label(s) {shown}{more} never observed alone "
            "(no sample has that singleton label set)"
        )
        return None
    return idx


def global_mean_of(s: CollapseSummary, idx: np.ndarray, mode: str) -> np.ndarray:
    """Global mean ``mu_G`` relative to the shift, for classes ``idx`` (canonical indices).

    ``'weighted'``: sample-weighted mean of the classes; ``'class_means'``: unweighted
    mean of their means; ``'paper'`` (quirk of the paper's code): the feature sum of the
    multiplicity-1 samples divided by the number of *all* samples.
    """
    sums, counts = s.sums, s.counts
    if mode == "weighted":
        return sums[idx].sum(axis=0) / counts[idx].sum()
    if mode == "class_means":
        return (sums[idx] / counts[idx, None]).mean(axis=0)
    single = s.multiplicities == 1
    n1, n = float(counts[single].sum()), float(s.n_samples)
    return sums[single].sum(axis=0) / n - (1.0 - n1 / n) * s.shift


def noise_floor(s: CollapseSummary, D: np.ndarray) -> float:
    """Norm below which a centred mean vector is indistinguishable from rounding noise."""
    top = float(np.abs(s.shift).max(initial=0.0) + np.abs(D).max(initial=0.0))
    return 100 * EPS * math.sqrt(s.n_features) * top


def zero_noise_rows(V: np.ndarray, floor: float) -> np.ndarray:
    """Copy of ``V`` with the rows of norm at most ``floor`` set to zero."""
    V = V.copy()
    V[np.linalg.norm(V, axis=1) <= floor] = 0.0
    return V


def singleton_means(s: CollapseSummary, centered: bool, mode: str, what: str) -> np.ndarray | None:
    """The ``K x d`` singleton means, centred by ``mu_G`` or absolute (None if undefined)."""
    idx = require_singletons(s, what)
    if idx is None:
        return None
    D = s.sums[idx] / s.counts[idx, None]
    if centered:
        floor = noise_floor(s, D)
        if np.linalg.norm(D - D.mean(axis=0), axis=1).max() <= floor:
            warn_nan(f"{what} is NaN: all singleton means coincide (e.g. all features equal)")
            return None
        return zero_noise_rows(D - global_mean_of(s, idx, mode), floor)
    return D + s.shift
