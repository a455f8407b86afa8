"""Closed form of the UFM for data balanced within each multiplicity (the reduced problem)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy import optimize, special
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from threadpoolctl import threadpool_limits

__all__ = ["ReducedSolution", "UFMGeometry", "reduced_problem"]


def _etf(K: int) -> np.ndarray:
    """Unit-row simplex ETF ``sqrt(K/(K-1)) (I - 11^T/K)``, shape ``(K, K)``."""
    return math.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K)


def _loss_weight(loss: str, m: int | np.ndarray) -> float | np.ndarray:
    """The weight ``w_m`` of a multiplicity-``m`` label set: 1 for PAL, ``1/m`` for PAL-N."""
    if loss == "pal_normalized":
        return 1.0 / m
    return np.ones_like(m, dtype=np.float64) if isinstance(m, np.ndarray) else 1.0


class UFMGeometry(NamedTuple):
    """Predicted collapsed UFM geometry built by :meth:`ReducedSolution.geometry`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm import reduced_problem
    >>> geo = reduced_problem({1: 2, 2: 1}, 3).geometry(expand=False)
    >>> geo.Y is None, geo.counts.tolist(), bool(np.allclose(geo.b, 0))
    (True, [2, 2, 2, 1, 1, 1], True)
    """

    W: np.ndarray
    """Classifier ``alpha * U`` (embedded in ``n_features`` dimensions), ``(K, d)``."""
    b: np.ndarray
    """Bias, all zeros, ``(K,)``."""
    label_sets: np.ndarray
    """Every label set of every multiplicity with ``n_m > 0``, ``(n_sets, K)``."""
    set_features: np.ndarray
    """``h_S = a_m sum_{k in S} w_k / alpha``, ``(n_sets, d)``."""
    counts: np.ndarray
    """Samples per label set, ``(n_sets,)``."""
    Y: np.ndarray
    """Label matrix with every set repeated ``n_m`` times, ``(N, K)``."""
    H: np.ndarray
    """Features of the rows of ``Y``, ``(N, d)``."""


@dataclass(frozen=True, eq=False)
class ReducedSolution:
    r"""Solution of the UFM theorem's reduced problem, returned by :func:`reduced_problem`.

    Attributes
    ----------
    n_classes : int
        :math:`K`.
    n_per_multiplicity : dict of int to int
        :math:`n_m`, the number of samples of *each* label set of multiplicity :math:`m`.
    loss : str
        ``"pal"`` or ``"pal_normalized"``.
    weight_decay, feature_decay : float
        :math:`\lambda_W, \lambda_H`.
    n_samples : int
        :math:`N = \sum_m n_m \binom Km`.
    alpha : float
        Norm of every classifier row, :math:`W = \alpha U`.
    a_m : dict of int to float
        Feature scales, :math:`h_S = a_m \sum_{k\in S} u_k` for :math:`|S| = m`. For
        :math:`m = K` the feature is zero whatever :math:`a_K`, reported as 0.
    c_m : dict of int to float
        Tag-wise average scales :math:`c_m = m a_m / a_1`, so that
        :math:`h_S = c_m \cdot \mathrm{mean}_{k\in S} h_{\{k\}}` (NaN when undefined: collapsed
        solution, no singletons, or :math:`m = K`).
    logit_scale : dict of int to float
        :math:`\alpha a_m K/(K-1)`; a multiplicity-:math:`m` sample has logits
        :math:`\alpha a_m \frac{K}{K-1}(\mathbb 1[j\in S] - m/K)`.
    W_norm_sq, H_norm_sq : float
        :math:`\|W\|_F^2 = K\alpha^2` and
        :math:`\|H\|_F^2 = \sum_m n_m \binom Km a_m^2 m(K-m)/(K-1)`.
    objective : float
        Minimum of the reduced (equivalently the full UFM) objective.
    zero_objective : float
        Objective of the trivial solution :math:`W = H = 0`.
    collapsed : bool
        True when the global minimiser is the trivial solution :math:`\alpha = a_m = 0`
        (regularisation too strong).
    zero_is_local_min : bool
        Whether the trivial solution is a strict local minimiser, i.e.
        :math:`\lambda_W \lambda_H K > \sum_m n_m \binom Km w_m^2 m (K-m) / (N^2 (K-1))`.
    stationarity_residual : float
        Largest relative residual of the stationarity conditions at the solution.
    notes : list of str
        Remarks (collapsed solution, undefined scales).

    Examples
    --------
    >>> from sklearn_mlabnc.ufm import reduced_problem
    >>> sol = reduced_problem({1: 2, 2: 1}, 3)
    >>> sol.n_samples, round(sol.W_norm_sq / sol.alpha**2, 12)
    (9, 3.0)
    """

    n_classes: int
    n_per_multiplicity: dict[int, int]
    loss: str
    weight_decay: float
    feature_decay: float
    n_samples: int
    alpha: float
    a_m: dict[int, float]
    c_m: dict[int, float]
    logit_scale: dict[int, float]
    W_norm_sq: float
    H_norm_sq: float
    objective: float
    zero_objective: float
    collapsed: bool
    zero_is_local_min: bool
    stationarity_residual: float
    notes: list[str] = field(default_factory=list)

    def stationarity_residuals(self) -> dict[str, float]:
        r"""Absolute and relative residuals of the optimality conditions.

        Returns
        -------
        dict
            For every :math:`m < K`, ``"m=<m>"`` holds the relative residual of
            :math:`\lambda_H a_m (m e^{\alpha a_m K/(K-1)} + K - m) = \alpha K w_m / N`,
            ``"balance"`` the relative residual of
            :math:`\lambda_W \|W\|^2 = \lambda_H \|H\|^2`, and ``"grad_alpha"`` the derivative
            of the objective in :math:`\alpha` divided by :math:`\lambda_W K \alpha`.

        Examples
        --------
        >>> from sklearn_mlabnc.ufm import reduced_problem
        >>> res = reduced_problem({1: 3, 2: 1}, 4).stationarity_residuals()
        >>> sorted(res), max(res.values()) < 1e-10
        (['balance', 'grad_alpha', 'm=1', 'm=2'], True)
        """
        return _stationarity(self)

    def geometry(self, n_features: int | None = None, *, expand: bool = True) -> UFMGeometry:
        r"""Build the predicted collapsed geometry.

        Parameters
        ----------
        n_features : int, optional
            Feature dimension :math:`d \ge K - 1`; defaults to :math:`K`. For :math:`d \ge K`
            the ETF is zero-padded, for :math:`d = K - 1` it is written in an orthonormal
            basis of :math:`\mathbf 1^\perp`.
        expand : bool, default=True
            Also build the per-sample ``Y`` and ``H`` (each set repeated ``n_m`` times);
            otherwise they are ``None``.

        Returns
        -------
        UFMGeometry
            ``W``, ``b``, ``label_sets``, ``set_features``, ``counts``, ``Y``, ``H``.

        Examples
        --------
        >>> from sklearn_mlabnc.ufm import reduced_problem
        >>> geo = reduced_problem({1: 2, 2: 1}, 3).geometry()
        >>> geo.W.shape, geo.label_sets.shape, geo.H.shape
        ((3, 3), (6, 3), (9, 3))
        """
        K = self.n_classes
        d = K if n_features is None else int(n_features)
        if d < K - 1:
            raise ValueError(f"n_features must be >= n_classes - 1 = {K - 1}; got {d}.")
        U = _etf(K)
        if d >= K:
            E = np.zeros((K, d))
            E[:, :K] = U
        else:
            basis = np.linalg.svd(np.eye(K) - 1.0 / K)[0][:, : K - 1]
            E = U @ basis
        sets, feats, counts = [], [], []
        for m in sorted(self.n_per_multiplicity):
            n_m = self.n_per_multiplicity[m]
            for S in itertools.combinations(range(K), m):
                row = np.zeros(K)
                row[list(S)] = 1.0
                sets.append(row)
                feats.append(self.a_m[m] * E[list(S)].sum(axis=0))
                counts.append(n_m)
        label_sets = np.array(sets).reshape(-1, K)
        set_features = np.array(feats).reshape(-1, d)
        counts_arr = np.array(counts, dtype=int)
        Y = H = None
        if expand:
            Y = np.repeat(label_sets, counts_arr, axis=0)
            H = np.repeat(set_features, counts_arr, axis=0)
        return UFMGeometry(
            W=self.alpha * E,
            b=np.zeros(K),
            label_sets=label_sets,
            set_features=set_features,
            counts=counts_arr,
            Y=Y,
            H=H,
        )


class _Reduced:
    """The reduced objective ``F(alpha, a)`` over the multiplicities ``1 <= m < K``."""

    def __init__(self, K, ms, n, N, loss, lam_w, lam_h):
        self.K = K
        self.kappa = K / (K - 1)
        self.m = np.asarray(ms, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        sizes = np.array([math.comb(K, m) for m in ms], dtype=np.float64)
        self.w = _loss_weight(loss, self.m)
        self.A = n * sizes * self.w * self.m  # loss weights
        self.B = n * sizes * self.m * (K - self.m) / (K - 1)  # feature norm weights
        self.N = N
        self.lam_w = lam_w
        self.lam_h = lam_h
        self.log_ratio = np.log(self.m) - np.log(K - self.m)  # log(m / (K - m))

    def q(self, t):
        # q = (K - m) / (m exp(kappa t) + K - m)
        return special.expit(-(self.kappa * t + self.log_ratio))

    def value(self, x, const=0.0):
        alpha, a = x[0], x[1:]
        t = alpha * a
        ell = np.logaddexp(np.log(self.m), np.log(self.K - self.m) - self.kappa * t)
        return (
            const
            + float(self.A @ ell) / self.N
            + 0.5 * self.lam_w * self.K * alpha**2
            + 0.5 * self.lam_h * float(self.B @ a**2)
        )

    def grad(self, x):
        alpha, a = x[0], x[1:]
        dl = -self.kappa * self.q(alpha * a)  # ell'(t)
        g_alpha = float(self.A @ (a * dl)) / self.N + self.lam_w * self.K * alpha
        g_a = self.A * alpha * dl / self.N + self.lam_h * self.B * a
        return np.concatenate([[g_alpha], g_a])

    def hess(self, x):
        alpha, a = x[0], x[1:]
        t = alpha * a
        q = self.q(t)
        dl = -self.kappa * q
        d2l = self.kappa**2 * q * (1.0 - q)
        M = a.size
        Hm = np.zeros((M + 1, M + 1))
        Hm[0, 0] = float(self.A @ (a**2 * d2l)) / self.N + self.lam_w * self.K
        Hm[0, 1:] = Hm[1:, 0] = self.A * (dl + t * d2l) / self.N
        Hm[1:, 1:] = np.diag(self.A * alpha**2 * d2l / self.N + self.lam_h * self.B)
        return Hm

    def profile(self, alpha: np.ndarray) -> np.ndarray:
        """``a_m(alpha)`` minimising ``F`` for fixed ``alpha > 0``; shape ``(n_alpha, M)``.

        With ``t = alpha a_m K/(K-1)`` the condition ``dF/da_m = 0`` reads
        ``g(t) = t (m e^t + K - m) = r = alpha^2 K^2 w_m / ((K-1) N lam_h)``; ``g`` is convex
        and increasing, so Newton's method started right of the root converges monotonically.
        """
        alpha = np.asarray(alpha, dtype=np.float64)[:, None]
        m, K = self.m, self.K
        r = alpha**2 * self.kappa * K * self.w / (self.N * self.lam_h)
        # g(r/K) >= r, and g(t) >= m e^t >= r at t = max(1, log(r/m))
        t = np.minimum(r / K, np.maximum(1.0, np.log(np.maximum(r / m, 1e-300))))
        for _ in range(200):
            e = np.exp(np.minimum(t, 700.0))
            g = t * (m * e + K - m) - r
            dg = m * e * (1.0 + t) + K - m
            step = g / dg
            t = np.maximum(t - step, 0.0)
            if np.all(np.abs(step) <= 4 * np.finfo(float).eps * np.maximum(t, 1e-300)):
                break
        return t / (self.kappa * alpha)

    def values(self, alpha: np.ndarray, a: np.ndarray, const: float) -> np.ndarray:
        """Vectorised objective for rows ``(alpha_i, a_i)``."""
        alpha = np.asarray(alpha)[:, None]
        ell = np.logaddexp(np.log(self.m), np.log(self.K - self.m) - self.kappa * alpha * a)
        return (
            const
            + (ell @ self.A) / self.N
            + 0.5 * self.lam_w * self.K * alpha[:, 0] ** 2
            + 0.5 * self.lam_h * (a**2 @ self.B)
        )


def _stationarity(sol: ReducedSolution) -> dict[str, float]:
    K = sol.n_classes
    N = sol.n_samples
    out: dict[str, float] = {}
    for m in sorted(sol.a_m):
        if m >= K:
            continue
        w = _loss_weight(sol.loss, m)
        t = sol.alpha * sol.a_m[m] * K / (K - 1)
        lhs = sol.feature_decay * sol.a_m[m] * (m * math.exp(t) + K - m)
        rhs = sol.alpha * K * w / N
        out[f"m={m}"] = abs(lhs - rhs) / max(abs(lhs), abs(rhs), np.finfo(float).tiny)
    lw, lh = sol.weight_decay * sol.W_norm_sq, sol.feature_decay * sol.H_norm_sq
    out["balance"] = abs(lw - lh) / max(lw, lh, np.finfo(float).tiny)
    ms = [m for m in sorted(sol.a_m) if m < K]
    if ms and sol.alpha > 0:
        prob = _Reduced(
            K,
            ms,
            [sol.n_per_multiplicity[m] for m in ms],
            N,
            sol.loss,
            sol.weight_decay,
            sol.feature_decay,
        )
        x = np.array([sol.alpha] + [sol.a_m[m] for m in ms])
        out["grad_alpha"] = abs(prob.grad(x)[0]) / (sol.weight_decay * K * sol.alpha)
    else:
        out["grad_alpha"] = 0.0
    return out


def _is_whole(x: object) -> bool:
    return isinstance(x, Real) and float(x).is_integer()


def _check_counts(n_per_multiplicity: Mapping[int, int], K: int) -> dict[int, int]:
    """The positive counts ``{m: n_m}`` sorted by ``m``, after checking every entry."""
    counts: dict[int, int] = {}
    for m, n in n_per_multiplicity.items():
        if not (_is_whole(m) and 1 <= m <= K):
            raise ValueError(
                f"Multiplicities (the keys of n_per_multiplicity) must be integers in "
                f"[1, {K}]; got {m!r}."
            )
        if not (_is_whole(n) and n >= 0):
            raise ValueError(
                f"Sample counts (the values of n_per_multiplicity) must be non-negative "
                f"integers; got {n!r} for m={m}."
            )
        if n > 0:
            counts[int(m)] = int(n)
    if not counts:
        raise ValueError(
            "n_per_multiplicity has no positive count; give at least one multiplicity with "
            "samples."
        )
    return dict(sorted(counts.items()))


_POSITIVE = Interval(Real, 0, np.inf, closed="neither")


@validate_params(
    {
        "n_per_multiplicity": [Mapping],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "loss": [StrOptions({"pal", "pal_normalized"})],
        "weight_decay": [_POSITIVE],
        "feature_decay": [_POSITIVE],
    },
    prefer_skip_nested_validation=True,
)
def reduced_problem(
    n_per_multiplicity: Mapping[int, int],
    n_classes: int,
    *,
    loss: str = "pal",
    weight_decay: float = 5e-4,
    feature_decay: float = 1e-3,
) -> ReducedSolution:
    r"""Solve the UFM theorem's reduced problem for data balanced within each multiplicity.

    Every label set of multiplicity :math:`m` has :math:`n_m` samples, so
    :math:`N = \sum_m n_m \binom Km`. At a collapsed solution :math:`W = \alpha U` (:math:`U`
    the unit-row simplex ETF), :math:`b = 0` and :math:`h_S = a_m \sum_{k\in S} u_k`, the UFM
    objective reduces to

    .. math::

        F = \frac1N \sum_m n_m \binom Km w_m\, m \log\!\bigl(m + (K-m)
            e^{-\alpha a_m K/(K-1)}\bigr)
            + \frac{\lambda_W}{2} K \alpha^2
            + \frac{\lambda_H}{2} \sum_m n_m \binom Km a_m^2 \frac{m(K-m)}{K-1},

    with :math:`w_m = 1` (PAL) or :math:`1/m` (PAL-N). The minimum is found by a grid over
    :math:`\alpha \in [0, \alpha_{\max}]` of the profile :math:`\min_a F(\alpha, a)` (each
    :math:`a_m` is the unique root of
    :math:`\lambda_H a_m (m e^{\alpha a_m K/(K-1)} + K - m) = \alpha K w_m / N`;
    :math:`\alpha_{\max} = \sqrt{2F(0)/(\lambda_W K)}` bounds every minimiser), refined by
    L-BFGS with the exact gradient and polished by Newton's method with the exact Hessian, to
    machine precision. If no non-zero point beats the trivial solution :math:`\alpha = a = 0`
    the problem is *collapsed to zero* (regularisation too strong) and that is reported.

    Multiplicity :math:`m = K` contributes a constant: its features are zero for every
    :math:`a_K`. Multiplicities with :math:`n_m = 0` are ignored.

    Parameters
    ----------
    n_per_multiplicity : dict of int to int
        :math:`n_m`, the number of samples of *each* label set of multiplicity :math:`m`
        (e.g. ``{1: 3, 2: 1}``: three samples per singleton, one per pair).
    n_classes : int
        :math:`K \ge 2`.
    loss : {"pal", "pal_normalized"}, default="pal"
        The weight :math:`w_m` is 1 for PAL and :math:`1/m` for PAL-N.
    weight_decay : float, default=5e-4
        :math:`\lambda_W > 0`.
    feature_decay : float, default=1e-3
        :math:`\lambda_H > 0`.

    Returns
    -------
    ReducedSolution
        ``alpha``, ``a_m``, ``c_m = m a_m / a_1``, ``W_norm_sq``, ``H_norm_sq``,
        ``objective``, ``collapsed``, ``logit_scale`` and :meth:`~ReducedSolution.geometry`.

    Raises
    ------
    ValueError
        On an unknown loss, invalid counts or regularisation strengths.

    See Also
    --------
    solve_ufm : numerical solution of the full problem for any label matrix.

    Examples
    --------
    >>> from sklearn_mlabnc.ufm import reduced_problem
    >>> sol = reduced_problem({1: 3, 2: 1}, 4)
    >>> round(sol.alpha, 5), {m: round(c, 5) for m, c in sol.c_m.items()}
    (3.86022, {1: 1.0, 2: 1.81717})
    >>> sol.collapsed, max(sol.stationarity_residuals().values()) < 1e-10
    (False, True)

    Strong regularisation makes the zero solution optimal:

    >>> reduced_problem({1: 3, 2: 1}, 4, weight_decay=0.5, feature_decay=0.5).collapsed
    True
    """
    K = int(n_classes)
    counts = _check_counts(n_per_multiplicity, K)
    lam_w, lam_h = float(weight_decay), float(feature_decay)

    N = sum(n * math.comb(K, m) for m, n in counts.items())
    ms = [m for m in counts if m < K]
    notes: list[str] = []
    # constant contribution of m = K: K w_K log K per sample (features are zero)
    const = 0.0
    if K in counts:
        w_K = _loss_weight(loss, K)
        const = counts[K] * w_K * K * math.log(K) / N
        notes.append(
            f"Multiplicity m=K={K}: the features of the full label set are zero for every "
            "a_K; a_K is reported as 0 and c_K as NaN."
        )
    if ms:
        prob = _Reduced(K, ms, [counts[m] for m in ms], N, loss, lam_w, lam_h)
        x0 = np.zeros(len(ms) + 1)
        zero_obj = prob.value(x0, const)
        # Schur complement of the Hessian at zero: lam_w K - sum (A kappa (K-m)/(N K))^2/(lam_h B)
        schur = lam_w * K - sum(
            (prob.A[i] * prob.kappa * (K - prob.m[i]) / (N * K)) ** 2 / (lam_h * prob.B[i])
            for i in range(len(ms))
        )
        zero_is_local_min = bool(schur > 0)
        with threadpool_limits(limits=1, user_api="blas"):
            x, obj = _solve_reduced(prob, const, zero_obj)
    else:
        zero_obj = const
        zero_is_local_min = True
        x, obj = np.zeros(1), const

    alpha = float(x[0])
    collapsed = alpha == 0.0
    a_m = {m: float(x[1 + i]) for i, m in enumerate(ms)}
    if K in counts:
        a_m[K] = 0.0
    if collapsed:
        notes.append(
            "Regularisation too strong: the global minimiser is the trivial solution "
            "W = H = 0 (alpha = a_m = 0); c_m is undefined."
        )
    if 1 not in counts:
        notes.append("No singleton label sets (n_1 = 0): c_m = m a_m / a_1 is undefined.")
    a1 = a_m.get(1, 0.0)
    c_m = {m: (m * a / a1 if (a1 > 0 and m < K) else float("nan")) for m, a in a_m.items()}
    kappa = K / (K - 1)
    H_norm_sq = sum(counts[m] * math.comb(K, m) * a_m[m] ** 2 * m * (K - m) / (K - 1) for m in a_m)
    sol = ReducedSolution(
        n_classes=K,
        n_per_multiplicity=counts,
        loss=loss,
        weight_decay=lam_w,
        feature_decay=lam_h,
        n_samples=N,
        alpha=alpha,
        a_m=a_m,
        c_m=c_m,
        logit_scale={m: alpha * a * kappa for m, a in a_m.items()},
        W_norm_sq=K * alpha**2,
        H_norm_sq=float(H_norm_sq),
        objective=float(obj),
        zero_objective=float(zero_obj),
        collapsed=collapsed,
        zero_is_local_min=zero_is_local_min,
        stationarity_residual=0.0,
        notes=notes,
    )
    residual = max(_stationarity(sol).values())
    object.__setattr__(sol, "stationarity_residual", float(residual))
    return sol


def _solve_reduced(prob: _Reduced, const: float, zero_obj: float) -> tuple[np.ndarray, float]:
    """Global minimiser of the reduced objective (see :func:`reduced_problem`)."""
    # every minimiser has lam_w K alpha^2 / 2 <= F(0) (the loss part is >= 0)
    alpha_max = math.sqrt(2.0 * zero_obj / (prob.lam_w * prob.K))
    grid = alpha_max * np.geomspace(1e-9, 1.0, 400)
    a_grid = prob.profile(grid)
    vals = prob.values(grid, a_grid, const)
    best = int(np.argmin(vals))
    best_val, best_x = zero_obj, np.zeros(prob.m.size + 1)
    if vals[best] < zero_obj:
        best_val, best_x = float(vals[best]), np.concatenate([[grid[best]], a_grid[best]])
    if best_x[0] == 0.0:
        return best_x, zero_obj

    res = optimize.minimize(
        lambda x: (prob.value(x, const), prob.grad(x)),
        best_x,
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, None)] * best_x.size,
        options={"ftol": 0.0, "gtol": 1e-14, "maxiter": 2000, "maxcor": 20},
    )
    x = res.x if prob.value(res.x, const) <= best_val else best_x
    # Newton polish on the stationarity conditions
    for _ in range(50):
        g = prob.grad(x)
        try:
            step = np.linalg.solve(prob.hess(x), g)
        except np.linalg.LinAlgError:
            break
        x_new = x - step
        if np.any(x_new <= 0) or not np.all(np.isfinite(x_new)):
            break
        if np.linalg.norm(prob.grad(x_new)) >= np.linalg.norm(g):
            if np.linalg.norm(step) <= 1e-15 * np.linalg.norm(x):
                x = x_new
            break
        x = x_new
    val = prob.value(x, const)
    if val >= zero_obj:
        return np.zeros_like(x), zero_obj
    return x, val
