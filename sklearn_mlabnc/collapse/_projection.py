"""Low-dimensional projection of the MLab NC geometry, the numbers behind a geometry plot.

:func:`geometry_projection` centres the singleton means by the global mean, projects them
on their top principal directions, and expresses in the same coordinates the label-set
means of multiplicity >= 2, their tag-wise-average predictions ``c_m mean_{k in S} mu_k``
and (optionally) the normalised classifier rows. Plotting code only draws the result.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._geometry import tagwise_from_summary
from ._labels import is_torch
from ._summary import CollapseSummary, global_mean_of, singleton_index

__all__ = ["BASES", "GeometryProjection", "geometry_projection", "pca_basis", "polygon_basis"]


@dataclass(frozen=True)
class GeometryProjection:
    """Coordinates of the collapse geometry in a ``dims``-D PCA basis (origin at ``mu_G``).

    Attributes
    ----------
    singletons : ndarray of shape (K, dims)
        Centred singleton means.
    classifier : ndarray of shape (K, dims) or None
        Classifier rows, normalised to unit length and scaled to the mean length of the
        centred singleton means (None without ``W``).
    set_labels : ndarray of shape (n_drawn, K), dtype=bool
        The label sets of multiplicity >= 2 kept (the ``max_sets`` most frequent ones, in
        canonical order).
    set_multiplicities : ndarray of shape (n_drawn,)
        Their multiplicities.
    set_means : ndarray of shape (n_drawn, dims)
        Their centred means ``mu_S - mu_G``.
    predictions : ndarray of shape (n_drawn, dims)
        Their centred tag-wise-average predictions (NaN rows where ``c_m`` is undefined).
    c_m : dict of int to float
        The least-squares scales of :func:`~sklearn_mlabnc.collapse.tagwise_average`.
    explained : ndarray of shape (dims,)
        Share of the centred singleton means' squared norm captured by each axis.
    explained_sets : float
        Share of the centred label-set means' squared norm (all sets of multiplicity >= 2,
        drawn or not) that the projection keeps; NaN without such sets.
    basis : str
        How the axes were chosen: ``"polygon"`` or ``"pca"``.
    n_hidden : int
        Label sets of multiplicity >= 2 left out by ``max_sets``.
    """

    singletons: np.ndarray
    classifier: np.ndarray | None
    set_labels: np.ndarray
    set_multiplicities: np.ndarray
    set_means: np.ndarray
    predictions: np.ndarray
    c_m: dict[int, float]
    explained: np.ndarray
    n_hidden: int
    explained_sets: float = math.nan
    basis: str = "pca"


def pca_basis(A: np.ndarray, extra: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``(dims, d)`` basis: top principal directions of the rows of ``A``.

    ``A`` is already centred. When ``A`` spans fewer than ``dims`` directions, the basis is
    completed from the top directions of ``extra`` orthogonal to them, then zero rows.
    Also returns the share of ``A``'s squared norm captured by each axis.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._projection import pca_basis
    >>> P, share = pca_basis(np.array([[2.0, 0.0], [-2.0, 0.0]]), np.zeros((0, 2)), 2)
    >>> P.tolist(), share.tolist()
    ([[1.0, 0.0], [0.0, 0.0]], [1.0, 0.0])
    """
    d = A.shape[1]
    _, sv, Vt = np.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * np.finfo(float).eps * (sv[0] if sv.size else 0.0)
    rank = int((sv > tol).sum())
    basis = list(Vt[: min(rank, dims)])
    if len(basis) < dims and extra.size:
        R = extra - (extra @ np.array(basis).T) @ np.array(basis) if basis else extra.copy()
        _, sv2, Vt2 = np.linalg.svd(R, full_matrices=False)
        tol2 = max(R.shape) * np.finfo(float).eps * max(np.abs(extra).max(), 1.0)
        basis += list(Vt2[: int((sv2 > tol2).sum())][: dims - len(basis)])
    while len(basis) < dims:
        basis.append(np.zeros(d))
    P = np.array(basis)
    for row in P:  # deterministic signs
        j = int(np.argmax(np.abs(row)))
        if row[j] < 0:
            row *= -1
    total = float((A**2).sum())
    share = ((A @ P.T) ** 2).sum(axis=0) / total if total > 0 else np.zeros(dims)
    return P, share


def polygon_basis(A: np.ndarray, extra: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``(dims, d)`` basis in which a simplex ETF ``A`` is a regular polygon.

    The first two axes span ``sum_k cos(2 pi k / K) a_k`` and ``sum_k sin(2 pi k / K) a_k``
    for the ``K`` rows ``a_k`` of the centred ``A``: in that plane the rows of a simplex
    ETF lie on a regular ``K``-gon, in label order, so their equal lengths and angles can be
    seen, where any pair of principal axes of an ETF (all of whose variances are equal) is
    an arbitrary choice. A third axis, and any axis these do not give (``K = 2``), come from
    :func:`pca_basis` of what is left. Also returns the share of ``A``'s squared norm
    captured by each axis.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._projection import polygon_basis
    >>> A = np.eye(5) - 1 / 5  # a simplex ETF of 5 rows
    >>> P, share = polygon_basis(A, np.zeros((0, 5)), 2)
    >>> radii = np.linalg.norm(A @ P.T, axis=1)
    >>> bool(np.allclose(radii, radii[0])), round(float(share.sum()), 3)  # 2 of 4 axes
    (True, 0.5)
    """
    K, d = A.shape
    angles = 2 * np.pi * np.arange(K) / K
    plane = np.vstack([np.cos(angles) @ A, np.sin(angles) @ A])[:dims]
    basis: list[np.ndarray] = []
    scale = max(float(np.abs(A).max()), 1e-300)
    for v in plane:
        for b in basis:
            v = v - (v @ b) * b
        norm = float(np.linalg.norm(v))
        if norm > 1e-9 * scale:
            basis.append(v / norm)
    if len(basis) < dims:
        B = np.array(basis) if basis else np.zeros((0, d))

        def residual(X: np.ndarray) -> np.ndarray:  # rounding noise is no direction
            R = X - (X @ B.T) @ B
            return R if R.size and np.abs(R).max() > 1e-9 * scale else np.zeros_like(X)

        rest, _ = pca_basis(residual(A), residual(extra), dims - len(basis))
        basis += [r for r in rest if np.any(r)]
        while len(basis) < dims:
            basis.append(np.zeros(d))
    P = np.array(basis)
    total = float((A**2).sum())
    share = ((A @ P.T) ** 2).sum(axis=0) / total if total > 0 else np.zeros(dims)
    return P, share


BASES = {"polygon": polygon_basis, "pca": pca_basis}


def _unit_rows(W: Any, K: int, d: int) -> np.ndarray:
    if is_torch(W):
        W = W.detach().cpu().numpy()
    Wm = np.asarray(W, dtype=float)
    if Wm.shape != (K, d):
        raise ValueError(f"W must have shape (K, d) = {(K, d)}; got {Wm.shape}")
    norms = np.linalg.norm(Wm, axis=1)
    if not np.all(np.isfinite(Wm)) or np.any(norms == 0):
        raise ValueError("W must be finite with non-zero rows")
    return Wm / norms[:, None]


def geometry_projection(
    s: CollapseSummary,
    W: Any = None,
    *,
    dims: int = 2,
    max_sets: int = 30,
    basis: str = "polygon",
) -> GeometryProjection:
    """Project the collapse geometry of a summary on axes in the span of the singleton means.

    The singleton means are centred by the sample-weighted global mean over the
    multiplicity-1 samples (the default of
    :func:`~sklearn_mlabnc.collapse.collapse_report`); ``c_m`` is the uncentred
    least-squares scale of :func:`~sklearn_mlabnc.collapse.tagwise_average`.

    Parameters
    ----------
    s : CollapseSummary
        The statistics (see :meth:`CollapseStatistics.summary`).
    W : array-like or torch.Tensor of shape (K, d), default=None
        Classifier weights.
    dims : {2, 3}, default=2
        Dimension of the projection.
    max_sets : int, default=30
        Most label sets of multiplicity >= 2 kept (the most frequent ones).
    basis : {"polygon", "pca"}, default="polygon"
        ``"polygon"``: the plane in which a simplex ETF of the singleton means is a regular
        polygon (:func:`polygon_basis`); ``"pca"``: their top principal directions.

    Returns
    -------
    projection : GeometryProjection
        The coordinates.

    Raises
    ------
    ValueError
        If there are no samples, a label is never observed alone, ``K < 2``, or ``W``
        has the wrong shape, a non-finite value or a zero row.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import CollapseStatistics
    >>> from sklearn_mlabnc.collapse._projection import geometry_projection
    >>> Y = np.array([[1, 0], [0, 1], [1, 1]])
    >>> H = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    >>> p = geometry_projection(CollapseStatistics().partial_fit(H, Y).summary())
    >>> np.abs(p.singletons).round(6).tolist(), p.c_m
    ([[0.707107, 0.0], [0.707107, 0.0]], {2: 1.0})
    """
    if basis not in BASES:
        raise ValueError(f"basis must be one of {sorted(BASES)}; got {basis!r}")
    if s.n_samples == 0:
        raise ValueError("no samples to plot")
    K, d = s.n_labels, s.n_features
    idx = singleton_index(s)
    missing = np.flatnonzero(idx < 0)
    if missing.size:
        raise ValueError(
            f"label(s) {[str(k) for k in missing[:10]]} never occur alone; the geometry "
            "needs the mean of every singleton label set"
        )
    if K < 2:
        raise ValueError(f"need at least 2 labels; got K={K}")
    Wm = None if W is None else _unit_rows(W, K, d)
    sets, mult, counts, means = s.label_sets, s.multiplicities, s.counts, s.means
    mu = means[idx]  # (K, d) uncentred singleton means
    mu_g = s.shift + global_mean_of(s, idx, "weighted")
    M = mu - mu_g
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c_hat = tagwise_from_summary(s, False, "weighted", 2000, 0).c_m
    multi = np.flatnonzero(mult >= 2)
    n_hidden = 0
    if multi.size > max_sets:  # most frequent first, ties in canonical order
        n_hidden = multi.size - max_sets
        multi = np.sort(multi[np.argsort(-counts[multi], kind="stable")[:max_sets]])
    preds = np.full((multi.size, d), np.nan)
    for i, j in enumerate(multi):
        c = c_hat.get(int(mult[j]), math.nan)
        if math.isfinite(c):
            preds[i] = c * mu[sets[j]].mean(axis=0)
    set_c = means[multi] - mu_g
    pred_c = preds - mu_g
    scale = float(np.linalg.norm(M, axis=1).mean())
    w_c = None if Wm is None else Wm * scale
    extra = [set_c, pred_c[np.isfinite(pred_c).all(axis=1)]]
    if w_c is not None:
        extra.append(w_c)
    P, share = BASES[basis](M, np.vstack(extra), dims)
    all_sets = means[mult >= 2] - mu_g
    total = float((all_sets**2).sum())
    kept_sets = float(((all_sets @ P.T) ** 2).sum()) / total if total > 0 else math.nan
    return GeometryProjection(
        singletons=M @ P.T,
        classifier=None if w_c is None else w_c @ P.T,
        set_labels=sets[multi],
        set_multiplicities=mult[multi],
        set_means=set_c @ P.T,
        predictions=pred_c @ P.T,
        c_m=c_hat,
        explained=share,
        n_hidden=n_hidden,
        explained_sets=kept_sets,
        basis=basis,
    )
