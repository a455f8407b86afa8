"""Feature geometry metrics NC1, NC2, NC3 and the tag-wise average NC_m, on a summary.

Each function here takes a :class:`CollapseSummary` (see
:meth:`CollapseStatistics.summary`) with already validated conventions; the public
functions :func:`~sklearn_mlabnc.collapse.nc1` ... accept statistics or ``(H, Y)`` and call
these. Notation: ``K`` labels, ``d`` features, ``mu_S`` the mean feature of the samples
whose label set is exactly ``S``, ``mu_k = mu_{{k}}`` the singleton means, ``mu_G`` a
global mean. Reference: Li, Li, Wang, Qu, *Neural Collapse in Multi-label Learning with
Pick-all-label Loss*, ICML 2024 (arXiv:2310.15903).

Degenerate inputs (a label never observed alone, every class with a single sample, zero
between-class scatter such as all features equal, fewer than two classes, ``d < C - 1``
for the ``'svd'`` inverse) make the affected metric ``NaN`` with a :class:`RuntimeWarning`
naming the reason.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import numpy as np

from ._labels import is_torch
from ._summary import (
    EPS,
    CollapseSummary,
    global_mean_of,
    noise_floor,
    require_singletons,
    singleton_index,
    singleton_means,
    warn_nan,
    zero_noise_rows,
)

__all__ = [
    "LabelSetResidual",
    "NC2Result",
    "TagwiseResult",
    "angles_deg",
    "as_host_matrix",
    "etf_deviation",
    "nc1_from_summary",
    "nc2_from_summary",
    "nc3_from_summary",
    "row_cosines",
    "tagwise_from_summary",
]


class LabelSetResidual(NamedTuple):
    """Tag-wise-average residual of one label set of multiplicity >= 2.

    Attributes
    ----------
    labels : tuple of int
        The label indices of the set ``S``.
    multiplicity : int
        ``|S|``.
    count : int
        Number of samples with exactly this label set.
    angle : float
        Angle in degrees between ``mu_S`` and ``sum_{k in S} mu_k`` (0 at collapse).
    scale : float
        Per-set least-squares scale ``<mu_S, a_S> / ||a_S||^2`` with
        ``a_S = mean_{k in S} mu_k``.
    scale_residual : float
        ``scale / c_m - 1`` (0 when the set follows the multiplicity's fitted scale).
    relative_residual : float
        ``||mu_S - c_m a_S|| / ||c_m a_S||``.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._geometry import LabelSetResidual
    >>> r = LabelSetResidual((0, 1), 2, 10, 0.0, 0.7, 0.0, 0.0)
    >>> r.labels, r.multiplicity
    ((0, 1), 2)
    """

    labels: tuple[int, ...]
    multiplicity: int
    count: int
    angle: float
    scale: float
    scale_residual: float
    relative_residual: float


class NC2Result(NamedTuple):
    """NC2 of the singleton means and of the classifier (NaN when ``W`` is not given).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._geometry import NC2Result
    >>> NC2Result(0.1, float("nan")).means
    0.1
    """

    means: float
    classifier: float


class TagwiseResult(NamedTuple):
    """Tag-wise-average results per multiplicity ``m >= 2``.

    Attributes
    ----------
    nc_m : dict of int to float
        Angle ratio (0 at collapse).
    c_m : dict of int to float
        Least-squares scale ``c_m`` of ``mu_S ~ c_m mean_{k in S} mu_k``.
    residuals : tuple of LabelSetResidual
        Per-label-set angle and scale residuals.
    n_skipped : dict of int to int
        Label sets skipped because a label in them was never observed alone.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._geometry import TagwiseResult
    >>> TagwiseResult({2: 0.0}, {2: 0.7}, (), {2: 0}).c_m
    {2: 0.7}
    """

    nc_m: dict[int, float]
    c_m: dict[int, float]
    residuals: tuple[LabelSetResidual, ...]
    n_skipped: dict[int, int]


def as_host_matrix(A: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``A`` (array-like or torch) as a finite float64 numpy array of the given shape."""
    if is_torch(A):
        A = A.detach().cpu().double().numpy()
    A = np.asarray(A, dtype=np.float64)
    if A.shape != shape:
        raise ValueError(
            f"{name} must have shape {shape} (K, d from the statistics); got {A.shape}"
        )
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity")
    return A


def etf_deviation(G: np.ndarray, what: str) -> float:
    """``|| G / ||G||_F - (I - 11^T/K) / sqrt(K-1) ||_F``."""
    K = G.shape[0]
    if K < 2:
        warn_nan(f"{what} is NaN: fewer than 2 labels")
        return math.nan
    norm = np.linalg.norm(G)
    if not np.isfinite(norm) or norm <= 0:
        warn_nan(f"{what} is NaN: the matrix is zero (e.g. all features equal)")
        return math.nan
    target = (np.eye(K) - 1.0 / K) / math.sqrt(K - 1)
    return float(np.linalg.norm(G / norm - target))


def row_cosines(W: np.ndarray) -> np.ndarray:
    """Pairwise cosines ``cos(w_i, w_j)`` of the rows of ``W`` (non-zero rows), clipped to [-1, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._geometry import row_cosines
    >>> row_cosines(np.eye(3) - 1 / 3).round(6)[0].tolist()
    [1.0, -0.5, -0.5]
    """
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    return np.clip(Wn @ Wn.T, -1.0, 1.0)


def angles_deg(X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Row-wise angle in degrees, stable near 0 and 180 (NaN for zero vectors)."""
    nx = np.linalg.norm(X, axis=1, keepdims=True)
    nv = np.linalg.norm(V, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = X / nx, V / nv
        ang = 2.0 * np.arctan2(np.linalg.norm(u - v, axis=1), np.linalg.norm(u + v, axis=1))
    ang[(nx[:, 0] == 0) | (nv[:, 0] == 0)] = np.nan
    return np.degrees(ang)


def _d_lt_k_warning(s: CollapseSummary, what: str) -> None:
    if s.n_features < s.n_labels - 1:
        warn_nan(
            f"{what}: feature dimension d={s.n_features} < K-1={s.n_labels - 1}, so a simplex ETF "
            "cannot be embedded; the deviation cannot reach 0"
        )


def _right_singular(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values (descending) and right singular vectors (rows) of A (C x d).

    For C <= d a thin SVD of A; for C > d the eigen-decomposition of the d x d Gram
    matrix A^T A (much cheaper for many label sets; its eigenvalues are Sigma_B up to the
    factor C, so the rank cut below is the usual pseudo-inverse cut on Sigma_B).
    """
    C, d = A.shape
    if C <= d:
        _, sv, Vt = np.linalg.svd(A, full_matrices=False)
        return sv, Vt
    w, V = np.linalg.eigh(A.T @ A)
    w, V = w[::-1], V[:, ::-1]
    return np.sqrt(np.clip(w, 0.0, None)), V.T


def nc1_from_summary(s: CollapseSummary, classes: str, inverse: str, global_mean: str) -> float:
    """NC1 ``tr(Sigma_W Sigma_B^+) / C`` of a summary (see :func:`nc1`)."""
    if classes == "singletons":
        idx = require_singletons(s, "NC1")
        if idx is None:
            return math.nan
        T = s.scatter_single
    else:
        idx = np.flatnonzero(s.multiplicities >= 1)
        T = s.scatter_single + s.scatter_multi
    C = idx.size
    if C < 2:
        warn_nan(f"NC1 is NaN: fewer than 2 classes ({C})")
        return math.nan
    n_c = s.counts[idx].astype(np.float64)
    if n_c.max() <= 1:
        warn_nan(
            "NC1 is NaN: every class has a single sample, so the within-class scatter "
            "is identically zero"
        )
        return math.nan
    B = s.sums[idx]
    means = B / n_c[:, None]
    A = means - global_mean_of(s, idx, global_mean)
    sv, Vt = _right_singular(A)
    scale = float(np.abs(s.shift).max() + np.abs(means).max())
    # Judge coincidence on the spread of the class means around their own mean: the
    # 'paper' global mean sits away from coinciding means and would hide the degeneracy.
    spread = float(np.abs(means - means.mean(axis=0)).max())
    if sv.size == 0 or spread <= 100 * EPS * math.sqrt(C * s.n_features) * max(scale, 1e-300):
        warn_nan("NC1 is NaN: the between-class scatter is zero (all class means coincide)")
        return math.nan
    rank = int(np.sum(sv > sv[0] * math.sqrt(max(C, s.n_features) * EPS)))
    if inverse == "pinv":
        r = min(rank, C - 1) if global_mean != "paper" else rank
    else:
        r = C - 1
        if s.n_features < r:
            warn_nan(
                f"NC1 is NaN: the 'svd' inverse needs the top C-1={r} between-class "
                f"directions but the feature dimension is d={s.n_features}"
            )
            return math.nan
        if rank < r:
            warn_nan(
                f"NC1 is NaN: the between-class scatter has rank {rank} < C-1={r}, so the "
                "'svd' inverse is undefined"
            )
            return math.nan
    V = Vt[:r].T
    lam = sv[:r] ** 2 / C
    BV = B @ V
    SwV = (V.T @ T @ V - (BV.T / n_c) @ BV) / n_c.sum()
    contributions = np.diag(SwV) / lam
    within = (float(np.trace(T)) - float(np.sum(B * B / n_c[:, None]))) / n_c.sum()
    _conditioning_guard(contributions, np.diag(SwV), within, lam)
    return float(np.sum(contributions) / C)


# NC1 is flagged when one between-class direction gives more than this share of its value...
_NC1_DOMINANT_SHARE = 0.5
# ...while holding less than this share of the within-class variance.
_NC1_NEGLIGIBLE_VARIANCE = 1e-3


def _conditioning_guard(
    contributions: np.ndarray, within_dir: np.ndarray, within_total: float, lam: np.ndarray
) -> None:
    """Warn when NC1 is dominated by a direction that holds a negligible share of the variance.

    Such a value is a ratio of two near-zero numbers (a tiny between-class eigenvalue under
    the pseudo-inverse), so reruns can change it by orders of magnitude.
    """
    total = float(np.sum(contributions))
    if contributions.size < 2 or not total > 0 or not within_total > 0:
        return
    j = int(np.argmax(contributions))
    share = float(contributions[j]) / total
    variance_share = max(float(within_dir[j]), 0.0) / within_total
    if share > _NC1_DOMINANT_SHARE and variance_share < _NC1_NEGLIGIBLE_VARIANCE:
        warn_nan(
            "NC1 is ill-conditioned (one between-class direction dominates it): "
            f"{share:.0%} of its value comes from a direction holding {variance_share:.1e} "
            "of the within-class variance, whose between-class eigenvalue is "
            f"{lam[j] / lam.max():.1e} of the largest. The value is a ratio of near-zero "
            "numbers and can change by orders of magnitude between runs; compare the "
            "within-class variance itself, or, with global_mean='paper', use inverse='svd' "
            "(the top C-1 directions only)."
        )


def nc2_from_summary(s: CollapseSummary, W: Any, centered: bool, global_mean: str) -> NC2Result:
    """NC2 of the singleton means and of ``W`` (see :func:`~sklearn_mlabnc.collapse.nc2`)."""
    _d_lt_k_warning(s, "NC2")
    M = singleton_means(s, centered, global_mean, "NC2 of the means")
    means = math.nan if M is None else etf_deviation(M @ M.T, "NC2 of the means")
    if W is None:
        clf = math.nan
    else:
        Wm = as_host_matrix(W, (s.n_labels, s.n_features), "W")
        clf = etf_deviation(Wm @ Wm.T, "NC2 of the classifier")
    return NC2Result(means, clf)


def nc3_from_summary(s: CollapseSummary, W: Any, global_mean: str) -> float:
    """NC3 self-duality of ``W`` (see :func:`~sklearn_mlabnc.collapse.nc3`)."""
    if W is None:
        raise ValueError("nc3 requires the classifier weights W")
    Wm = as_host_matrix(W, (s.n_labels, s.n_features), "W")
    _d_lt_k_warning(s, "NC3")
    M = singleton_means(s, True, global_mean, "NC3")
    if M is None:
        return math.nan
    return etf_deviation(Wm @ M.T, "NC3")


# Mean reference angle (degrees) below which NC_m's denominator is rounding noise: arccos of
# a cosine one ulp below 1 is about 1e-6 degrees.
_MIN_REFERENCE_ANGLE = 1e-4


def _subsets(Kp: int, m: int, max_subsets: int, random_state: int) -> np.ndarray:
    total = math.comb(Kp, m)
    if total <= max_subsets:
        return np.array(list(itertools.combinations(range(Kp), m)), dtype=np.intp).reshape(
            total, m
        )
    rng = np.random.default_rng(random_state)
    return np.argsort(rng.random((max_subsets, Kp)), axis=1)[:, :m]


def tagwise_from_summary(
    s: CollapseSummary,
    centered: bool,
    global_mean: str,
    max_subsets: int,
    random_state: int,
) -> TagwiseResult:
    """NC_m, ``c_m`` and residuals (see :func:`~sklearn_mlabnc.collapse.tagwise_average`)."""
    if int(max_subsets) < 1:
        raise ValueError(f"max_subsets must be a positive integer; got {max_subsets!r}")
    sidx = singleton_index(s)
    seen = sidx >= 0
    D = s.sums / np.maximum(s.counts, 1)[:, None]
    if centered:
        idx = sidx[seen]
        vecs = D if idx.size == 0 else D - global_mean_of(s, idx, global_mean)
        floor = noise_floor(s, D)
        vecs = zero_noise_rows(vecs, floor)
    else:
        vecs = D + s.shift
        floor = 0.0
    label_vecs = vecs[sidx[seen]]
    Kp = int(seen.sum())
    nc_m: dict[int, float] = {}
    c_m: dict[int, float] = {}
    skipped: dict[int, int] = {}
    rows: list[LabelSetResidual] = []
    for m in sorted(int(x) for x in np.unique(s.multiplicities) if x >= 2):
        sel = np.flatnonzero(s.multiplicities == m)
        ok = ~np.any(s.label_sets[sel][:, ~seen], axis=1)
        skipped[m] = int((~ok).sum())
        if skipped[m]:
            warn_nan(
                f"NC_m (m={m}): {skipped[m]} label set(s) contain a label never observed "
                "alone and are skipped"
            )
        sel = sel[ok]
        if sel.size == 0 or Kp < m:
            warn_nan(f"NC_m (m={m}) is NaN: no label set of this multiplicity can be evaluated")
            nc_m[m], c_m[m] = math.nan, math.nan
            continue
        X = vecs[sel]
        Ssum = zero_noise_rows(s.label_sets[sel][:, seen].astype(np.float64) @ label_vecs, floor)
        a = Ssum / m
        num = angles_deg(X, Ssum)
        aa = np.einsum("ij,ij->i", a, a)
        xa = np.einsum("ij,ij->i", X, a)
        den_c = float(aa.sum())
        c_hat = float(xa.sum()) / den_c if den_c > 0 else math.nan
        # denominator: all observed sets of size m against all (or sampled) size-m subsets
        T = _subsets(Kp, m, int(max_subsets), random_state)
        Tsum = zero_noise_rows(label_vecs[T].sum(axis=1), floor)
        nT = np.linalg.norm(Tsum, axis=1)
        nX = np.linalg.norm(X, axis=1)
        good_T, good_X = nT > 0, nX > 0
        tot, cnt = 0.0, 0
        if good_T.any() and good_X.any():
            Tn = Tsum[good_T] / nT[good_T, None]
            Xn = X[good_X] / nX[good_X, None]
            step = max(1, (1 << 21) // Tn.shape[0])
            for i in range(0, Xn.shape[0], step):
                cos = np.clip(Xn[i : i + step] @ Tn.T, -1.0, 1.0)
                tot += float(np.degrees(np.arccos(cos)).sum())
                cnt += cos.size
        if np.isnan(num).any() or not good_T.all():
            warn_nan(
                f"NC_m (m={m}): some angles are undefined (zero mean vectors) and are ignored"
            )
        if cnt == 0 or np.isnan(num).all() or tot / max(cnt, 1) <= _MIN_REFERENCE_ANGLE:
            # Reference angles at rounding level mean all label-set vectors are parallel
            # (e.g. all features equal): the ratio would be 0/0.
            warn_nan(f"NC_m (m={m}) is NaN: no defined reference angle")
            nc_m[m] = math.nan
        else:
            nc_m[m] = float(np.nanmean(num) / (tot / cnt))
        c_m[m] = c_hat
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = xa / aa
            rel = np.linalg.norm(X - c_hat * a, axis=1) / (abs(c_hat) * np.sqrt(aa))
        for j, k in enumerate(sel):
            rows.append(
                LabelSetResidual(
                    labels=tuple(np.flatnonzero(s.label_sets[k]).tolist()),
                    multiplicity=m,
                    count=int(s.counts[k]),
                    angle=float(num[j]),
                    scale=float(scale[j]),
                    scale_residual=float(scale[j] / c_hat - 1.0),
                    relative_residual=float(rel[j]),
                )
            )
    return TagwiseResult(nc_m, c_m, tuple(rows), skipped)
