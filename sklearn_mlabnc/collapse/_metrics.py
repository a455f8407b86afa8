"""Multi-label neural-collapse (MLab NC) metrics.

Every metric is computed from a :class:`CollapseStatistics` (per-label-set counts and
feature sums, plus two scatter matrices), so a one-shot, a batch-by-batch and a merged
computation give the same value. Each function accepts either a fitted
``CollapseStatistics`` (and then ``Y`` must be omitted) or the features ``H`` with the
indicator ``Y``.

Notation: ``K`` labels, ``d`` features, ``mu_S`` the mean feature of the samples whose label
set is exactly ``S``, ``mu_k = mu_{{k}}`` the singleton means, ``mu_G`` a global mean.
Reference: Li, Li, Wang, Qu, *Neural Collapse in Multi-label Learning with Pick-all-label
Loss*, ICML 2024 (arXiv:2310.15903).

Degenerate inputs (a label never observed alone, every class with a single sample, zero
between-class scatter such as all features equal, fewer than two classes, ``d < C - 1``
for the ``'svd'`` inverse) make the affected metric ``NaN`` with a :class:`RuntimeWarning`
naming the reason.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from ._report import CollapseReport, LabelSetResidual
from ._statistics import CollapseStatistics, _Indicator, _is_torch, _unique_rows

__all__ = [
    "collapse_report",
    "label_statistics",
    "nc1",
    "nc2",
    "nc3",
    "nc4",
    "soft_iou",
    "tagwise_average",
    "NC2Result",
    "TagwiseResult",
]

_CLASSES = ("singletons", "label_sets")
_INVERSES = ("pinv", "svd")
_GLOBAL_MEANS = ("weighted", "class_means", "paper")
_EPS = np.finfo(np.float64).eps


class NC2Result(NamedTuple):
    """NC2 of the singleton means and of the classifier (NaN when ``W`` is not given).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._metrics import NC2Result
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
    >>> from sklearn_mlabnc.collapse._metrics import TagwiseResult
    >>> TagwiseResult({2: 0.0}, {2: 0.7}, (), {2: 0}).c_m
    {2: 0.7}
    """

    nc_m: dict[int, float]
    c_m: dict[int, float]
    residuals: tuple[LabelSetResidual, ...]
    n_skipped: dict[int, int]


# --------------------------------------------------------------------------- helpers
def _warn(msg: str) -> None:
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


def _get_stats(stats_or_H: Any, Y: Any, fname: str) -> CollapseStatistics:
    if isinstance(stats_or_H, CollapseStatistics):
        if Y is not None:
            raise ValueError(f"{fname}: pass either a CollapseStatistics or (H, Y), not both")
        stats_or_H._check_fitted()
        return stats_or_H
    if Y is None:
        raise ValueError(f"{fname}: Y is required when features H are given")
    return CollapseStatistics().partial_fit(stats_or_H, Y)


def _check_option(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")


def _host_matrix(A: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    if _is_torch(A):
        A = A.detach().cpu().double().numpy()
    A = np.asarray(A, dtype=np.float64)
    if A.shape != shape:
        raise ValueError(
            f"{name} must have shape {shape} (K, d from the statistics); got {A.shape}"
        )
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity")
    return A


def _singleton_index(s: dict[str, Any]) -> np.ndarray:
    """Index (in the canonical order) of the set {k} for each label k, -1 if unseen."""
    idx = np.full(s["K"], -1, dtype=np.intp)
    single = np.flatnonzero(s["mult"] == 1)
    idx[np.argmax(s["sets"][single], axis=1)] = single
    return idx


def _require_singletons(s: dict[str, Any], what: str) -> np.ndarray | None:
    idx = _singleton_index(s)
    missing = np.flatnonzero(idx < 0)
    if missing.size:
        shown = missing[:10].tolist()
        more = "..." if missing.size > 10 else ""
        _warn(
            f"{what} is NaN: label(s) {shown}{more} never observed alone "
            "(no sample has that singleton label set)"
        )
        return None
    return idx


def _global_mean(s: dict[str, Any], idx: np.ndarray, mode: str) -> np.ndarray:
    """Global mean relative to the shift, for classes ``idx`` (canonical indices)."""
    sums, counts = s["sums"], s["counts"]
    if mode == "weighted":
        return sums[idx].sum(axis=0) / counts[idx].sum()
    if mode == "class_means":
        return (sums[idx] / counts[idx, None]).mean(axis=0)
    # 'paper': sum of multiplicity-1 features divided by the count of ALL samples
    single = s["mult"] == 1
    n1, n = float(counts[single].sum()), float(s["n"])
    return sums[single].sum(axis=0) / n - (1.0 - n1 / n) * s["shift"]


def _noise_floor(s: dict[str, Any], D: np.ndarray) -> float:
    """Norm below which a centred mean vector is indistinguishable from rounding noise."""
    top = float(np.abs(s["shift"]).max(initial=0.0) + np.abs(D).max(initial=0.0))
    return 100 * _EPS * math.sqrt(s["d"]) * top


def _zero_noise_rows(V: np.ndarray, floor: float) -> np.ndarray:
    V = V.copy()
    V[np.linalg.norm(V, axis=1) <= floor] = 0.0
    return V


def _etf_deviation(G: np.ndarray, what: str) -> float:
    """``|| G / ||G||_F - (I - 11^T/K) / sqrt(K-1) ||_F``."""
    K = G.shape[0]
    if K < 2:
        _warn(f"{what} is NaN: fewer than 2 labels")
        return math.nan
    norm = np.linalg.norm(G)
    if not np.isfinite(norm) or norm <= 0:
        _warn(f"{what} is NaN: the matrix is zero (e.g. all features equal)")
        return math.nan
    target = (np.eye(K) - 1.0 / K) / math.sqrt(K - 1)
    return float(np.linalg.norm(G / norm - target))


def _angles_deg(X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Row-wise angle in degrees, stable near 0 and 180 (NaN for zero vectors)."""
    nx = np.linalg.norm(X, axis=1, keepdims=True)
    nv = np.linalg.norm(V, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = X / nx, V / nv
        ang = 2.0 * np.arctan2(np.linalg.norm(u - v, axis=1), np.linalg.norm(u + v, axis=1))
    ang[(nx[:, 0] == 0) | (nv[:, 0] == 0)] = np.nan
    return np.degrees(ang)


def _d_lt_k_warning(s: dict[str, Any], what: str) -> None:
    if s["d"] < s["K"] - 1:
        _warn(
            f"{what}: feature dimension d={s['d']} < K-1={s['K'] - 1}, so a simplex ETF "
            "cannot be embedded; the deviation cannot reach 0"
        )


# ------------------------------------------------------------------------------ NC1
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


def _nc1_stats(stats: CollapseStatistics, classes: str, inverse: str, global_mean: str) -> float:
    _check_option("classes", classes, _CLASSES)
    _check_option("inverse", inverse, _INVERSES)
    _check_option("global_mean", global_mean, _GLOBAL_MEANS)
    s = stats._summary()
    if classes == "singletons":
        idx = _require_singletons(s, "NC1")
        if idx is None:
            return math.nan
        T = s["T1"]
    else:
        idx = np.flatnonzero(s["mult"] >= 1)
        T = s["T1"] + s["TM"]
    C = idx.size
    if C < 2:
        _warn(f"NC1 is NaN: fewer than 2 classes ({C})")
        return math.nan
    n_c = s["counts"][idx].astype(np.float64)
    if n_c.max() <= 1:
        _warn(
            "NC1 is NaN: every class has a single sample, so the within-class scatter "
            "is identically zero"
        )
        return math.nan
    B = s["sums"][idx]
    means = B / n_c[:, None]
    A = means - _global_mean(s, idx, global_mean)
    sv, Vt = _right_singular(A)
    scale = float(np.abs(s["shift"]).max() + np.abs(means).max())
    # Judge coincidence on the spread of the class means around their own mean: the
    # 'paper' global mean sits away from coinciding means and would hide the degeneracy.
    spread = float(np.abs(means - means.mean(axis=0)).max())
    if sv.size == 0 or spread <= 100 * _EPS * math.sqrt(C * s["d"]) * max(scale, 1e-300):
        _warn("NC1 is NaN: the between-class scatter is zero (all class means coincide)")
        return math.nan
    rank = int(np.sum(sv > sv[0] * math.sqrt(max(C, s["d"]) * _EPS)))
    if inverse == "pinv":
        r = min(rank, C - 1) if global_mean != "paper" else rank
    else:
        r = C - 1
        if s["d"] < r:
            _warn(
                f"NC1 is NaN: the 'svd' inverse needs the top C-1={r} between-class "
                f"directions but the feature dimension is d={s['d']}"
            )
            return math.nan
        if rank < r:
            _warn(
                f"NC1 is NaN: the between-class scatter has rank {rank} < C-1={r}, so the "
                "'svd' inverse is undefined"
            )
            return math.nan
    V = Vt[:r].T
    lam = sv[:r] ** 2 / C
    BV = B @ V
    SwV = (V.T @ T @ V - (BV.T / n_c) @ BV) / n_c.sum()
    return float(np.sum(np.diag(SwV) / lam) / C)


def nc1(
    stats_or_H: Any,
    Y: Any = None,
    *,
    classes: str = "singletons",
    inverse: str = "pinv",
    global_mean: str = "weighted",
) -> float:
    """NC1 within-class variability collapse, ``tr(Sigma_W Sigma_B^+) / C``.

    With ``C`` classes (of the chosen convention), ``n`` samples used and class means
    ``mu_c``::

        Sigma_W = (1/n) sum_i (h_i - mu_{c(i)}) (h_i - mu_{c(i)})^T
        Sigma_B = (1/C) sum_c (mu_c - mu_G) (mu_c - mu_G)^T
        NC1     = tr(Sigma_W Sigma_B^+) / C

    (population ``1/n`` and ``1/C`` denominators, no Bessel correction; with the paper's
    singleton convention ``C = K``.)

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like of shape (n, d)
        Fitted statistics, or features (then ``Y`` is required).
    Y : array-like of shape (n, K), optional
        0/1 indicator when features are given.
    classes : {'singletons', 'label_sets'}, default='singletons'
        ``'singletons'`` (paper): the ``K`` singleton label sets are the classes and only
        multiplicity-1 samples are used (NaN if a label is never observed alone).
        ``'label_sets'``: every distinct non-empty label set is a class, all non-empty
        samples are used, ``C`` = number of such sets.
    inverse : {'pinv', 'svd'}, default='pinv'
        ``'pinv'``: Moore-Penrose pseudo-inverse of ``Sigma_B`` (eigenvalues of
        ``Sigma_B`` below ``max(C, d) * eps * lambda_max`` count as zero, the
        ``numpy.linalg.matrix_rank`` convention; with a ``'weighted'`` or
        ``'class_means'`` global mean at most ``C - 1`` directions, the exact rank).
        ``'svd'`` (Papyan et al.): invert ``Sigma_B`` on its top ``C - 1`` singular
        directions only (NaN when ``d < C - 1`` or the rank is smaller).
    global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
        ``'weighted'``: sample-weighted mean of the samples used; ``'class_means'``:
        unweighted mean of the class means; ``'paper'`` (quirk of the paper's code): sum
        of the multiplicity-1 features divided by the number of *all* samples.

    Returns
    -------
    nc1 : float
        The value (NaN with a RuntimeWarning for degenerate inputs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import nc1
    >>> H = np.array([[1.0], [3.0], [5.0], [7.0]])
    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    >>> nc1(H, Y)  # Sigma_W = 1, Sigma_B = 4 -> (1 / 4) / 2
    0.125
    """
    stats = _get_stats(stats_or_H, Y, "nc1")
    return _nc1_stats(stats, classes, inverse, global_mean)


# ------------------------------------------------------------------------------ NC2/3
def _singleton_means(
    stats: CollapseStatistics, centered: bool, global_mean: str, what: str
) -> np.ndarray | None:
    _check_option("global_mean", global_mean, _GLOBAL_MEANS)
    s = stats._summary()
    idx = _require_singletons(s, what)
    if idx is None:
        return None
    D = s["sums"][idx] / s["counts"][idx, None]
    if centered:
        floor = _noise_floor(s, D)
        if np.linalg.norm(D - D.mean(axis=0), axis=1).max() <= floor:
            _warn(f"{what} is NaN: all singleton means coincide (e.g. all features equal)")
            return None
        return _zero_noise_rows(D - _global_mean(s, idx, global_mean), floor)
    return D + s["shift"]


def _nc2_stats(stats: CollapseStatistics, W: Any, centered: bool, global_mean: str) -> NC2Result:
    s = stats._summary()
    _d_lt_k_warning(s, "NC2")
    M = _singleton_means(stats, centered, global_mean, "NC2 of the means")
    means = math.nan if M is None else _etf_deviation(M @ M.T, "NC2 of the means")
    if W is None:
        clf = math.nan
    else:
        Wm = _host_matrix(W, (s["K"], s["d"]), "W")
        clf = _etf_deviation(Wm @ Wm.T, "NC2 of the classifier")
    return NC2Result(means, clf)


def nc2(
    stats_or_H: Any,
    Y: Any = None,
    *,
    W: Any = None,
    centered: bool = True,
    global_mean: str = "weighted",
) -> NC2Result:
    """NC2 convergence to a simplex equiangular tight frame (ETF).

    For a ``K x d`` matrix ``A``::

        ETF(A) = || A A^T / ||A A^T||_F - (I - 11^T / K) / sqrt(K - 1) ||_F

    computed for the singleton means (``A = M - mu_G`` with ``centered=True``, or the
    uncentred ``A = M``, the paper code's quirk, with ``centered=False``) and, when ``W``
    is given, for the classifier rows ``A = W``. 0 at collapse.

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like of shape (n, d)
        Fitted statistics, or features (then ``Y`` is required).
    Y : array-like of shape (n, K), optional
        0/1 indicator when features are given.
    W : array-like or torch.Tensor of shape (K, d), optional
        Classifier weights.
    centered : bool, default=True
        Centre the singleton means by ``mu_G`` (clean definition) or not (paper quirk).
    global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
        Global mean used for centring, computed over the singleton classes (see
        :func:`nc1`).

    Returns
    -------
    result : NC2Result
        Named tuple ``(means, classifier)``; ``classifier`` is NaN without ``W``,
        ``means`` is NaN if a label is never observed alone.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import nc2
    >>> Y = np.eye(3, dtype=int)
    >>> H = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> round(nc2(H, Y, W=H, centered=False).classifier, 6)  # sqrt(2/3)
    0.816497
    """
    stats = _get_stats(stats_or_H, Y, "nc2")
    return _nc2_stats(stats, W, centered, global_mean)


def _nc3_stats(stats: CollapseStatistics, W: Any, global_mean: str) -> float:
    if W is None:
        raise ValueError("nc3 requires the classifier weights W")
    s = stats._summary()
    Wm = _host_matrix(W, (s["K"], s["d"]), "W")
    _d_lt_k_warning(s, "NC3")
    M = _singleton_means(stats, True, global_mean, "NC3")
    if M is None:
        return math.nan
    return _etf_deviation(Wm @ M.T, "NC3")


def nc3(
    stats_or_H: Any,
    Y: Any = None,
    *,
    W: Any,
    global_mean: str = "weighted",
) -> float:
    """NC3 self-duality of the classifier and the centred singleton means.

    ::

        NC3 = || W Mbar^T / ||W Mbar^T||_F - (I - 11^T / K) / sqrt(K - 1) ||_F

    with ``Mbar`` the ``K x d`` singleton means centred by ``mu_G``. 0 at collapse.

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like of shape (n, d)
        Fitted statistics, or features (then ``Y`` is required).
    Y : array-like of shape (n, K), optional
        0/1 indicator when features are given.
    W : array-like or torch.Tensor of shape (K, d)
        Classifier weights (required).
    global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
        Global mean used for centring (see :func:`nc1`).

    Returns
    -------
    nc3 : float
        The value (NaN if a label is never observed alone).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import nc3
    >>> U = np.eye(3) - 1 / 3
    >>> Y = np.eye(3, dtype=int)
    >>> round(abs(nc3(2 * U, Y, W=U)), 6)
    0.0
    """
    stats = _get_stats(stats_or_H, Y, "nc3")
    return _nc3_stats(stats, W, global_mean)


# ------------------------------------------------------------------------ tag-wise
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


def _tagwise_stats(
    stats: CollapseStatistics,
    centered: bool,
    global_mean: str,
    max_subsets: int,
    random_state: int,
) -> TagwiseResult:
    _check_option("global_mean", global_mean, _GLOBAL_MEANS)
    if int(max_subsets) < 1:
        raise ValueError(f"max_subsets must be a positive integer; got {max_subsets!r}")
    s = stats._summary()
    sidx = _singleton_index(s)
    seen = sidx >= 0
    D = s["sums"] / np.maximum(s["counts"], 1)[:, None]
    if centered:
        idx = sidx[seen]
        vecs = D if idx.size == 0 else D - _global_mean(s, idx, global_mean)
        floor = _noise_floor(s, D)
        vecs = _zero_noise_rows(vecs, floor)
    else:
        vecs = D + s["shift"]
        floor = 0.0
    label_vecs = vecs[sidx[seen]]
    Kp = int(seen.sum())
    nc_m: dict[int, float] = {}
    c_m: dict[int, float] = {}
    skipped: dict[int, int] = {}
    rows: list[LabelSetResidual] = []
    for m in sorted(int(x) for x in np.unique(s["mult"]) if x >= 2):
        sel = np.flatnonzero(s["mult"] == m)
        ok = ~np.any(s["sets"][sel][:, ~seen], axis=1)
        skipped[m] = int((~ok).sum())
        if skipped[m]:
            _warn(
                f"NC_m (m={m}): {skipped[m]} label set(s) contain a label never observed "
                "alone and are skipped"
            )
        sel = sel[ok]
        if sel.size == 0 or Kp < m:
            _warn(f"NC_m (m={m}) is NaN: no label set of this multiplicity can be evaluated")
            nc_m[m], c_m[m] = math.nan, math.nan
            continue
        X = vecs[sel]
        Ssum = _zero_noise_rows(s["sets"][sel][:, seen].astype(np.float64) @ label_vecs, floor)
        a = Ssum / m
        num = _angles_deg(X, Ssum)
        aa = np.einsum("ij,ij->i", a, a)
        xa = np.einsum("ij,ij->i", X, a)
        den_c = float(aa.sum())
        c_hat = float(xa.sum()) / den_c if den_c > 0 else math.nan
        # denominator: all observed sets of size m against all (or sampled) size-m subsets
        T = _subsets(Kp, m, int(max_subsets), random_state)
        Tsum = _zero_noise_rows(label_vecs[T].sum(axis=1), floor)
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
            _warn(f"NC_m (m={m}): some angles are undefined (zero mean vectors) and are ignored")
        if cnt == 0 or np.isnan(num).all() or tot / max(cnt, 1) <= _MIN_REFERENCE_ANGLE:
            # Reference angles at rounding level mean all label-set vectors are parallel
            # (e.g. all features equal): the ratio would be 0/0.
            _warn(f"NC_m (m={m}) is NaN: no defined reference angle")
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
                    labels=tuple(np.flatnonzero(s["sets"][k]).tolist()),
                    multiplicity=m,
                    count=int(s["counts"][k]),
                    angle=float(num[j]),
                    scale=float(scale[j]),
                    scale_residual=float(scale[j] / c_hat - 1.0),
                    relative_residual=float(rel[j]),
                )
            )
    return TagwiseResult(nc_m, c_m, tuple(rows), skipped)


def tagwise_average(
    stats_or_H: Any,
    Y: Any = None,
    *,
    centered: bool = False,
    global_mean: str = "weighted",
    max_subsets: int = 2000,
    random_state: int = 0,
) -> TagwiseResult:
    """Tag-wise average property NC_m, scale ``c_m`` and per-label-set residuals.

    For every multiplicity ``m >= 2`` present, with ``O_m`` the observed label sets of
    size ``m`` (sets containing a label never observed alone are skipped and counted),
    ``mu_k`` the singleton means and ``ang`` the angle in degrees::

        NC_m = mean_{S in O_m} ang(mu_S, sum_{k in S} mu_k)
               / mean_{S' in O_m, T in T_m} ang(mu_S', sum_{k in T} mu_k)

    ``T_m`` is every size-``m`` subset of the labels seen alone when there are at most
    ``max_subsets`` of them (so all pairs for the paper's ``m = 2``), otherwise
    ``max_subsets`` uniformly random subsets drawn with ``random_state``. Means are
    uncentred by default (as in the paper); ``centered=True`` subtracts ``mu_G`` from
    every mean first. Set means are unweighted by their counts. The scale is the
    closed-form least-squares fit of ``mu_S ~ c_m a_S`` with ``a_S = mean_{k in S} mu_k``::

        c_m = sum_S <mu_S, a_S> / sum_S ||a_S||^2

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like of shape (n, d)
        Fitted statistics, or features (then ``Y`` is required).
    Y : array-like of shape (n, K), optional
        0/1 indicator when features are given.
    centered : bool, default=False
        Subtract the global mean from all means.
    global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
        Global mean (over the singleton classes) for ``centered=True``.
    max_subsets : int, default=2000
        Cap on the number of reference subsets ``T`` per multiplicity.
    random_state : int, default=0
        Seed for sampling the reference subsets when capped.

    Returns
    -------
    result : TagwiseResult
        ``(nc_m, c_m, residuals, n_skipped)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import tagwise_average
    >>> H = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    >>> res = tagwise_average(H, Y)  # 45 degrees / mean(45, 90, 180) = 3/7
    >>> round(res.nc_m[2], 6), round(res.c_m[2], 6)
    (0.428571, 1.0)
    """
    stats = _get_stats(stats_or_H, Y, "tagwise_average")
    return _tagwise_stats(stats, centered, global_mean, max_subsets, random_state)


# ------------------------------------------------------------------------------ NC4
def nc4(
    stats_or_H: Any,
    Y: Any = None,
    predictions: Any = None,
    *,
    H: Any = None,
    batch_size: int = 8192,
) -> float:
    """NC4 nearest-class-centre agreement.

    Fraction of samples whose nearest label-set mean (Euclidean, among the means of all
    observed label sets, the empty set included when observed; ties go to the first set
    in canonical order) is exactly the classifier's predicted label set. Computed batch
    by batch on the features' device.

    Call as ``nc4(H, Y, predictions)`` or ``nc4(stats, predictions=P, H=H)``.

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like of shape (n, d)
        Fitted statistics (then ``H`` is required), or features (then ``Y`` is required).
    Y : array-like of shape (n, K), optional
        0/1 indicator when features are given.
    predictions : array-like or torch.Tensor of shape (n, K)
        The classifier's predicted 0/1 label sets.
    H : array-like or torch.Tensor of shape (n, d), optional
        Features, when ``stats_or_H`` is a CollapseStatistics.
    batch_size : int, default=8192
        Rows per batch.

    Returns
    -------
    nc4 : float
        Agreement in [0, 1] (NaN for zero samples).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import nc4
    >>> H = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    >>> nc4(H, Y, [[1, 0], [0, 1], [0, 1], [0, 1]])
    0.75
    """
    if isinstance(stats_or_H, CollapseStatistics):
        stats = _get_stats(stats_or_H, Y, "nc4")
        if H is None:
            raise ValueError("nc4: the features H are required with a CollapseStatistics")
    else:
        if H is not None:
            raise ValueError("nc4: pass the features either positionally or as H, not both")
        H = stats_or_H
        stats = _get_stats(H, Y, "nc4")
    if predictions is None:
        raise ValueError("nc4: predictions are required")
    return _nc4_stats(stats, H, predictions, batch_size)


def _nc4_stats(stats: CollapseStatistics, H: Any, predictions: Any, batch_size: int) -> float:
    s = stats._summary()
    P = _Indicator(predictions, name="predictions")
    n = int(H.shape[0])
    if H.ndim != 2 or H.shape[1] != s["d"]:
        raise ValueError(f"H must have shape (n, {s['d']}); got {tuple(H.shape)}")
    if P.n != n or P.K != s["K"]:
        raise ValueError(f"predictions must have shape ({n}, {s['K']}); got ({P.n}, {P.K})")
    if n == 0:
        _warn("NC4 is NaN: no samples")
        return math.nan
    Mc = s["sums"] / s["counts"][:, None]
    sets = s["sets"]
    step = max(1, min(batch_size, (1 << 24) // max(1, Mc.shape[0])))
    agree = 0
    if _is_torch(H):
        import torch

        dev = H.device
        Mt = torch.as_tensor(Mc, device=dev)
        msq = (Mt * Mt).sum(1)
        shift = torch.as_tensor(s["shift"], device=dev)
        sets_t = torch.as_tensor(sets, device=dev)
        for a in range(0, n, step):
            Hc = H[a : a + step].detach().to(torch.float64) - shift
            nearest = torch.argmin(msq[None, :] - 2.0 * (Hc @ Mt.T), dim=1)
            pred = P.torch_chunk(a, a + step, dev)
            agree += int((sets_t[nearest] == pred).all(dim=1).sum())
    else:
        Hs = sp.csr_array(H) if sp.issparse(H) else np.asarray(H)
        msq = np.einsum("ij,ij->i", Mc, Mc)
        for a in range(0, n, step):
            chunk = Hs[a : a + step]
            chunk = chunk.toarray() if sp.issparse(chunk) else chunk
            Hc = np.asarray(chunk, dtype=np.float64) - s["shift"]
            nearest = np.argmin(msq[None, :] - 2.0 * (Hc @ Mc.T), axis=1)
            pred = P.numpy_chunk(a, a + step)
            agree += int(np.all(sets[nearest] == pred, axis=1).sum())
    return agree / n


# ------------------------------------------------------------------------- soft IoU
def soft_iou(scores: Any, Y: Any, *, from_logits: bool = True) -> float:
    """Soft IoU, the paper's test score: mean softmax mass on the true label set.

    ``mean_i sum_{k in S_i} softmax(z_i)_k`` over the samples with a non-empty label set
    (rows with no positive label are excluded; NaN if there are none).

    Parameters
    ----------
    scores : array-like or torch.Tensor of shape (n, K)
        Logits ``z`` (``from_logits=True``) or probabilities (``from_logits=False``).
    Y : array-like of shape (n, K)
        0/1 indicator of the true label sets.
    from_logits : bool, default=True
        Apply a row-wise softmax to ``scores`` first.

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import soft_iou
    >>> soft_iou(np.array([[0.0, 0.0], [np.log(3.0), 0.0]]), [[1, 0], [1, 1]])
    0.75
    """
    ind = _Indicator(Y)
    if tuple(scores.shape if hasattr(scores, "shape") else np.shape(scores)) != (ind.n, ind.K):
        raise ValueError(
            f"scores must have the shape of Y ({ind.n}, {ind.K}); got {np.shape(scores)}"
        )
    if _is_torch(scores):
        import torch

        z = scores.detach().to(torch.float64)
        if not bool(torch.isfinite(z).all()):
            raise ValueError("scores contain NaN or infinity")
        p = torch.softmax(z, dim=1) if from_logits else z
        Yt = ind.torch_chunk(0, ind.n, z.device)
        mass = (p * Yt).sum(1)
        keep = Yt.any(1)
        k = int(keep.sum())
        total = float(mass[keep].sum()) if k else 0.0
    else:
        z = np.asarray(scores, dtype=np.float64)
        if not np.all(np.isfinite(z)):
            raise ValueError("scores contain NaN or infinity")
        if from_logits:
            z = np.exp(z - z.max(axis=1, keepdims=True))
            z /= z.sum(axis=1, keepdims=True)
        Yb = ind.numpy_chunk(0, ind.n)
        keep = Yb.any(axis=1)
        k = int(keep.sum())
        total = float((z * Yb).sum(axis=1)[keep].sum())
    if k == 0:
        _warn("soft IoU is NaN: no sample has a non-empty label set")
        return math.nan
    return total / k


# ------------------------------------------------------------------ label statistics
def label_statistics(stats_or_Y: Any) -> dict[str, Any]:
    """Label-set counts and the spectrum of the label second-moment matrix.

    Parameters
    ----------
    stats_or_Y : CollapseStatistics or array-like of shape (n, K)
        Fitted statistics or a 0/1 indicator matrix (numpy, scipy sparse or torch).

    Returns
    -------
    stats : dict
        ``n_samples``; ``n_labels``; ``label_sets`` (``(S, K)`` bool, sorted by
        multiplicity then labels); ``counts`` (per set); ``multiplicities`` (per set);
        ``multiplicity_counts`` (``{m: samples}``); ``sets_per_multiplicity``
        (``{m: distinct sets}``); ``count_range`` (``{m: (min, max)}`` set counts within a
        multiplicity; unequal means imbalance); ``label_frequencies`` (``E[y]``);
        ``second_moment_eigenvalues`` (of ``E[y y^T]``, descending) and
        ``covariance_eigenvalues`` (of ``E[y y^T] - E[y] E[y]^T``, descending).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse import label_statistics
    >>> st = label_statistics([[1, 0], [0, 1], [1, 1], [1, 0]])
    >>> st["multiplicity_counts"], st["counts"].tolist()
    ({1: 3, 2: 1}, [2, 1, 1])
    >>> st["second_moment_eigenvalues"].round(6).tolist()
    [0.904508, 0.345492]
    """
    if isinstance(stats_or_Y, CollapseStatistics):
        stats_or_Y._check_fitted()
        sets, counts = stats_or_Y.label_sets_, stats_or_Y.counts_
        K, n = stats_or_Y.n_labels_, stats_or_Y.n_samples_
    else:
        ind = _Indicator(stats_or_Y)
        K, n = ind.K, ind.n
        table: dict[bytes, list[Any]] = {}
        step = max(1024, (1 << 24) // max(K, 1))
        for a in range(0, n, step):
            urows, inv = _unique_rows(ind.numpy_chunk(a, a + step))
            cnt = np.bincount(inv, minlength=len(urows))
            for r, c in zip(urows, cnt, strict=True):
                entry = table.setdefault(r.tobytes(), [r, 0])
                entry[1] += int(c)
        if table:
            packed = np.array([v[0] for v in table.values()])
            sets = np.unpackbits(packed, axis=1, count=K).astype(bool)
            counts = np.array([v[1] for v in table.values()], dtype=np.int64)
            order = sorted(
                range(len(sets)),
                key=lambda j: (int(sets[j].sum()), tuple(np.flatnonzero(sets[j]).tolist())),
            )
            sets, counts = sets[order], counts[order]
        else:
            sets, counts = np.zeros((0, K), dtype=bool), np.zeros(0, dtype=np.int64)
    mult = sets.sum(axis=1).astype(np.int64)
    ms = sorted(int(m) for m in np.unique(mult))
    F = sets.astype(np.float64)
    if n > 0:
        second = (F.T * counts) @ F / n
        freq = counts @ F / n
    else:
        second, freq = np.full((K, K), np.nan), np.full(K, np.nan)
    cov = second - np.outer(freq, freq)
    eig2 = np.linalg.eigvalsh(second)[::-1] if n > 0 else np.full(K, np.nan)
    eigc = np.linalg.eigvalsh(cov)[::-1] if n > 0 else np.full(K, np.nan)
    return {
        "n_samples": int(n),
        "n_labels": int(K),
        "label_sets": sets,
        "counts": counts,
        "multiplicities": mult,
        "multiplicity_counts": {m: int(counts[mult == m].sum()) for m in ms},
        "sets_per_multiplicity": {m: int((mult == m).sum()) for m in ms},
        "count_range": {
            m: (int(counts[mult == m].min()), int(counts[mult == m].max())) for m in ms
        },
        "label_frequencies": freq,
        "second_moment_eigenvalues": eig2,
        "covariance_eigenvalues": eigc,
    }


# --------------------------------------------------------------------------- report
_DEFAULT_OPTIONS: dict[str, Any] = {
    "classes": "singletons",
    "inverse": "pinv",
    "global_mean": "weighted",
    "centered": True,
    "tagwise_centered": False,
    "max_subsets": 2000,
    "random_state": 0,
}


def _report_from_stats(
    stats: CollapseStatistics, W: Any = None, b: Any = None, **options: Any
) -> CollapseReport:
    unknown = set(options) - set(_DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown report option(s) {sorted(unknown)}; valid: {sorted(_DEFAULT_OPTIONS)}"
        )
    opts = {**_DEFAULT_OPTIONS, **options}
    _check_option("classes", opts["classes"], _CLASSES)
    _check_option("inverse", opts["inverse"], _INVERSES)
    _check_option("global_mean", opts["global_mean"], _GLOBAL_MEANS)
    stats._check_fitted()
    s = stats._summary()
    bias = math.nan
    if b is not None:
        bv = _host_matrix(b, (s["K"],), "b")
        nb = float(np.linalg.norm(bv))
        bias = float(np.linalg.norm(bv - bv.mean()) / nb) if nb > 0 else 0.0
    if W is not None:
        W = _host_matrix(W, (s["K"], s["d"]), "W")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v1 = _nc1_stats(stats, opts["classes"], opts["inverse"], opts["global_mean"])
        v2 = _nc2_stats(stats, W, bool(opts["centered"]), opts["global_mean"])
        v3 = math.nan if W is None else _nc3_stats(stats, W, opts["global_mean"])
        tw = _tagwise_stats(
            stats,
            bool(opts["tagwise_centered"]),
            opts["global_mean"],
            int(opts["max_subsets"]),
            int(opts["random_state"]),
        )
    notes: list[str] = []
    for w in caught:
        msg = str(w.message)
        if msg not in notes:
            notes.append(msg)
            warnings.warn(msg, w.category, stacklevel=3)
    notes.extend(_data_notes(s))
    return CollapseReport(
        nc1=v1,
        nc2_means=v2.means,
        nc2_classifier=v2.classifier,
        nc3=v3,
        nc_m=tw.nc_m,
        c_m=tw.c_m,
        bias_deviation=bias,
        n_samples=int(s["n"]),
        n_label_sets=len(s["counts"]),
        n_labels=int(s["K"]),
        n_features=int(s["d"]),
        n_skipped=tw.n_skipped,
        residuals=tw.residuals,
        options=opts,
        notes=tuple(notes),
    )


def _data_notes(s: dict[str, Any]) -> list[str]:
    notes = []
    mult, counts = s["mult"], s["counts"]
    n_empty = int(counts[mult == 0].sum())
    if n_empty:
        notes.append(
            f"{n_empty} sample(s) have no positive label; they form the empty label set "
            "(multiplicity 0) and are excluded from singleton-based metrics"
        )
    for m in sorted(int(x) for x in np.unique(mult) if x >= 1):
        c = counts[mult == m]
        if c.min() != c.max():
            notes.append(
                f"label sets of multiplicity {m} are imbalanced (counts {c.min()}..{c.max()}): "
                "tag-wise geometry not guaranteed"
            )
    n_one = int(np.sum((counts == 1) & (mult >= 1)))
    if n_one:
        notes.append(
            f"{n_one} label set(s) have a single sample and contribute no within-class variability"
        )
    return notes


def collapse_report(
    H: Any,
    Y: Any,
    W: Any = None,
    b: Any = None,
    *,
    logits: Any = None,
    predictions: Any = None,
    classes: str = "singletons",
    inverse: str = "pinv",
    global_mean: str = "weighted",
    centered: bool = True,
    tagwise_centered: bool = False,
    max_subsets: int = 2000,
    random_state: int = 0,
) -> CollapseReport:
    """All MLab NC metrics of features ``H`` with label indicator ``Y`` in one report.

    Builds a :class:`CollapseStatistics` and computes NC1 (:func:`nc1`), NC2 of the means
    and of ``W`` (:func:`nc2`), NC3 (:func:`nc3`), the tag-wise average NC_m / ``c_m`` /
    residuals (:func:`tagwise_average`), NC4 (:func:`nc4`, when ``predictions`` are
    given), the soft IoU (:func:`soft_iou`, from ``logits`` or from ``H W^T + b`` when
    ``W`` is given) and ``bias_deviation = ||b - mean(b)|| / ||b||``. The notes flag
    degenerate inputs, rows with no label, single-sample classes, and imbalance *within*
    a multiplicity (the UFM theorem needs equal counts per multiplicity).

    Parameters
    ----------
    H : array-like, scipy sparse or torch.Tensor of shape (n, d)
        Features.
    Y : array-like, scipy sparse or torch.Tensor of shape (n, K)
        0/1 label indicator.
    W : array-like of shape (K, d), optional
        Classifier weights.
    b : array-like of shape (K,), optional
        Classifier bias.
    logits : array-like of shape (n, K), optional
        Logits for the soft IoU (default: ``H W^T + b`` if ``W`` is given).
    predictions : array-like of shape (n, K), optional
        Predicted label sets for NC4.
    classes, inverse, global_mean : str
        NC1 conventions, see :func:`nc1` (``global_mean`` also centres NC2/NC3).
    centered : bool, default=True
        Centre the singleton means in NC2 (``False`` = paper quirk).
    tagwise_centered, max_subsets, random_state
        ``centered``, ``max_subsets`` and ``random_state`` of :func:`tagwise_average`.

    Returns
    -------
    report : CollapseReport
        The metrics.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import collapse_report
    >>> U = np.eye(3) - 1 / 3  # centred simplex directions
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> Y = np.repeat(Y, 2, axis=0)  # two samples per label set
    >>> H = Y @ U * np.where(Y.sum(1) == 1, 1.0, 0.35)[:, None]
    >>> rep = collapse_report(H, Y, W=U, predictions=Y)
    >>> round(rep.nc1, 6), round(rep.nc2_means, 6), round(rep.nc3, 6), rep.nc4
    (0.0, 0.0, 0.0, 1.0)
    >>> round(rep.nc_m[2], 6), round(rep.c_m[2], 6)
    (0.0, 0.7)
    """
    stats = CollapseStatistics().partial_fit(H, Y)
    rep = _report_from_stats(
        stats,
        W=W,
        b=b,
        classes=classes,
        inverse=inverse,
        global_mean=global_mean,
        centered=centered,
        tagwise_centered=tagwise_centered,
        max_subsets=max_subsets,
        random_state=random_state,
    )
    s = stats._summary()
    notes = list(rep.notes)
    iou = math.nan
    if logits is None and W is not None:
        logits = _logits(H, W, b, s)
    if logits is not None:
        iou = soft_iou(logits, Y)
    agree = math.nan
    if predictions is not None:
        agree = _nc4_stats(stats, H, predictions, 8192)
    return replace(rep, soft_iou=iou, nc4=agree, notes=tuple(notes))


def _logits(H: Any, W: Any, b: Any, s: dict[str, Any]) -> Any:
    Wm = _host_matrix(W, (s["K"], s["d"]), "W")
    bv = np.zeros(s["K"]) if b is None else _host_matrix(b, (s["K"],), "b")
    if _is_torch(H):
        import torch

        Wt = torch.as_tensor(Wm, device=H.device)
        return H.detach().to(torch.float64) @ Wt.T + torch.as_tensor(bv, device=H.device)
    if sp.issparse(H):
        return np.asarray(sp.csr_array(H) @ Wm.T) + bv
    return np.asarray(H, dtype=np.float64) @ Wm.T + bv
