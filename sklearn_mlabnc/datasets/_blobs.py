"""Gaussian multi-label blobs whose label-set means follow (or violate) the tag-wise average."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ._label_sets import per_multiplicity, plan_label_sets
from ._validation import LABEL_SET_CONSTRAINTS, check_rng

__all__ = ["make_tagwise_blobs"]


def _scales(scales: Any, multiplicities: list[int]) -> dict[int, float]:
    if scales is None or isinstance(scales, Mapping):
        out = per_multiplicity(scales, "scales", multiplicities, default=1.0)
    else:
        values = list(scales)
        if len(values) < max(multiplicities):
            raise ValueError(
                f"scales must give c_1..c_M for M={max(multiplicities)} (one value per "
                f"multiplicity starting at m=1), got {len(values)} values."
            )
        out = {m: values[m - 1] for m in multiplicities}
    for m, c in out.items():
        if isinstance(c, bool) or not isinstance(c, Real) or not np.isfinite(c) or c <= 0:
            raise ValueError(f"scales[m={m}] must be a positive finite number, got {c!r}.")
    return {m: float(c) for m, c in out.items()}


@validate_params(
    {
        **LABEL_SET_CONSTRAINTS,
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "scales": ["array-like", Mapping, None],
        "center_norm": [Interval(Real, 0, np.inf, closed="neither")],
        "noise": [Interval(Real, 0, np.inf, closed="left")],
        "violate": [Interval(Real, 0, np.inf, closed="left")],
        "return_centers": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_tagwise_blobs(
    n_classes: int = 5,
    n_features: int = 10,
    *,
    max_multiplicity: int = 2,
    n_per_singleton: int = 50,
    n_per_set: int | Mapping[int, int] = 20,
    label_sets: Iterable[Iterable[int]] | None = None,
    n_sets_per_multiplicity: int | Mapping[int, int] | None = None,
    imbalance: float | Mapping[int, float] | None = None,
    scales: Sequence[float] | Mapping[int, float] | None = None,
    center_norm: float = 1.0,
    noise: float = 0.1,
    violate: float = 0.0,
    shuffle: bool = True,
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
    return_centers: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, dict]:
    """Gaussian multi-label features with MLab NC geometry (tag-wise average means).

    The singleton means ``mu_k`` are the vertices of a simplex ETF of norm ``center_norm``
    (``U = sqrt(K/(K-1)) (I - 11^T/K)`` with unit rows), embedded in ``n_features`` dimensions
    by a random orthonormal map. The mean of label set ``S`` of size ``m`` is the tag-wise
    average ``mu_S = c_m * mean_{k in S} mu_k`` (so a singleton's mean is ``c_1 mu_k``). With
    ``violate > 0`` each mean with ``m >= 2`` is moved orthogonally to that prototype by
    ``violate * ||mu_S||``, i.e. by an angle of ``arctan(violate)``, in a random direction.
    Samples are ``mu_S + noise * N(0, I)``.

    Parameters
    ----------
    n_classes : int, default=5
        Number of labels ``K`` (at least 2).
    n_features : int, default=10
        Feature dimension ``d >= n_classes``.
    max_multiplicity : int, default=2
        Largest label-set size (at most ``n_classes``).
    n_per_singleton : int, default=50
        Samples per singleton label set.
    n_per_set : int or dict of {int: int}, default=20
        Samples per label set of size ``m >= 2`` (or one count per multiplicity).
    label_sets : iterable of iterables of int, default=None
        Explicit label sets (singletons included only if listed); default: every singleton and
        the sets chosen by ``n_sets_per_multiplicity``.
    n_sets_per_multiplicity : int or dict of {int: int}, default=None
        Number of label sets of each size ``m >= 2``, chosen deterministically to cover the
        labels evenly; ``None`` uses all ``C(K, m)``.
    imbalance : float >= 1 or dict of {int: float}, default=None
        Within-multiplicity imbalance: counts decay geometrically from ``n`` to
        ``n / imbalance`` over the sets of one size (lexicographic order).
    scales : sequence or dict of {int: float}, default=None
        The scale ``c_m`` of each multiplicity: a sequence ``(c_1, ..., c_M)`` or a dict
        ``{m: c_m}`` (missing entries are 1). ``None``: every ``c_m = 1``.
    center_norm : float, default=1.0
        Norm of the ETF vertices ``mu_k``.
    noise : float, default=0.1
        Standard deviation of the isotropic Gaussian noise.
    violate : float, default=0.0
        Relative size of the deviation from the tag-wise average for ``m >= 2`` (0: exact
        MLab NC geometry). If a prototype is zero (``S`` is every label), the deviation is
        ``violate * c_m * center_norm`` instead.
    shuffle : bool, default=True
        Shuffle the samples; otherwise they are ordered by label set.
    random_state : int, RandomState instance, numpy Generator or None, default=None
        Seed for the embedding, deviations, noise and shuffling.
    return_centers : bool, default=False
        Also return the exact means.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Features.
    Y : ndarray of shape (n_samples, n_classes)
        int64 label indicator matrix.
    centers : dict of {tuple of int: ndarray of shape (n_features,)}
        Only if ``return_centers``: the exact mean of every generated label set, keyed by the
        sorted tuple of its labels (a singleton ``{k}`` is ``(k,)`` with mean ``c_1 mu_k``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.datasets import make_tagwise_blobs
    >>> X, Y, centers = make_tagwise_blobs(scales=(1.0, 0.5), random_state=0,
    ...                                     return_centers=True)
    >>> X.shape, Y.shape
    ((450, 10), (450, 5))
    >>> bool(np.allclose(centers[(0, 1)], 0.5 * (centers[(0,)] + centers[(1,)]) / 2))
    True
    """
    if n_features < n_classes:
        raise ValueError(
            f"n_features must be >= n_classes={n_classes} to embed the simplex ETF, "
            f"got {n_features}."
        )
    plan = plan_label_sets(
        n_classes=n_classes,
        max_multiplicity=max_multiplicity,
        max_allowed_multiplicity=n_classes,
        n_per_singleton=n_per_singleton,
        n_per_set=n_per_set,
        label_sets=label_sets,
        n_sets_per_multiplicity=n_sets_per_multiplicity,
        imbalance=imbalance,
    )
    c = _scales(scales, list(range(1, max_multiplicity + 1)))
    rng = check_rng(random_state)

    etf = np.sqrt(n_classes / (n_classes - 1)) * (
        np.eye(n_classes) - np.full((n_classes, n_classes), 1.0 / n_classes)
    )
    q, r = np.linalg.qr(rng.standard_normal((n_features, n_classes)))
    q *= np.sign(np.diag(r))  # unique (Haar-distributed) orthonormal map
    vertices = center_norm * etf @ q.T  # (K, d), rows mu_k

    centers: dict[tuple[int, ...], np.ndarray] = {}
    n_samples = sum(n for _, n in plan)
    X = np.empty((n_samples, n_features))
    Y = np.zeros((n_samples, n_classes), dtype=np.int64)
    start = 0
    for label_set, n in plan:
        m = len(label_set)
        mean = c[m] * vertices[list(label_set)].mean(axis=0)
        if violate > 0 and m >= 2:
            norm = np.linalg.norm(mean)
            size = violate * (norm if norm > 1e-12 * center_norm else c[m] * center_norm)
            direction = rng.standard_normal(n_features)
            if norm > 1e-12 * center_norm:
                direction -= (direction @ mean) / norm**2 * mean
            mean = mean + size * direction / np.linalg.norm(direction)
        centers[label_set] = mean
        rows = slice(start, start + n)
        X[rows] = mean + noise * rng.standard_normal((n, n_features))
        Y[rows, list(label_set)] = 1
        start += n
    if shuffle:
        order = rng.permutation(n_samples)
        X, Y = X[order], Y[order]
    if return_centers:
        return X, Y, centers
    return X, Y
