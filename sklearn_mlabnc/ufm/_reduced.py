"""Closed form of the UFM for data balanced within each multiplicity (the reduced problem)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from threadpoolctl import threadpool_limits

from ._decays import describe_problem, feature_penalty
from ._reduced_objective import (
    ReducedObjective,
    loss_weight,
    solve_reduced,
    stationarity,
    unit_etf,
)

__all__ = ["ReducedSolution", "UFMGeometry", "reduced_problem"]


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
    weight_decay, lambda_h : float
        :math:`\lambda_W, \lambda_H`.
    feature_decay : float
        The same feature penalty as an estimator's per-sample ``feature_decay``,
        :math:`\lambda_H N / 2`.
    fixed_classifier : str or None
        ``None`` when ``W`` was learned; otherwise what it was fixed to (e.g.
        ``"the unit ETF"``).
    n_samples : int
        :math:`N = \sum_m n_m \binom Km`.
    alpha : float
        Norm of every classifier row, :math:`W = \alpha U` (given when ``W`` is fixed).
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
        Objective of the trivial solution :math:`W = H = 0` (:math:`H = 0` when ``W`` is
        fixed).
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
    lambda_h: float
    feature_decay: float
    fixed_classifier: str | None
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

    @property
    def problem(self) -> str:
        """One line naming the problem solved: loss, learned or fixed ``W``, decays."""
        return describe_problem(
            solver="reduced",
            loss=self.loss,
            fixed_classifier=self.fixed_classifier,
            weight_decay=self.weight_decay,
            lambda_h=self.lambda_h,
            feature_decay=self.feature_decay,
            bias_decay=None,
        )

    def stationarity_residuals(self) -> dict[str, float]:
        r"""Absolute and relative residuals of the optimality conditions.

        Returns
        -------
        dict
            For every :math:`m < K`, ``"m=<m>"`` holds the relative residual of
            :math:`\lambda_H a_m (m e^{\alpha a_m K/(K-1)} + K - m) = \alpha K w_m / N`,
            ``"balance"`` the relative residual of
            :math:`\lambda_W \|W\|^2 = \lambda_H \|H\|^2`, and ``"grad_alpha"`` the derivative
            of the objective in :math:`\alpha` divided by :math:`\lambda_W K \alpha` (these two
            only when ``W`` is learned).

        Examples
        --------
        >>> from sklearn_mlabnc.ufm import reduced_problem
        >>> res = reduced_problem({1: 3, 2: 1}, 4).stationarity_residuals()
        >>> sorted(res), max(res.values()) < 1e-10
        (['balance', 'grad_alpha', 'm=1', 'm=2'], True)
        """
        return stationarity(self)

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
        U = unit_etf(K)
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
        "feature_decay": [_POSITIVE, None],
        "lambda_h": [_POSITIVE, None],
        "fixed_classifier": [StrOptions({"etf"}), _POSITIVE, None],
    },
    prefer_skip_nested_validation=True,
)
def reduced_problem(
    n_per_multiplicity: Mapping[int, int],
    n_classes: int,
    *,
    loss: str = "pal",
    weight_decay: float = 5e-4,
    feature_decay: float | None = None,
    lambda_h: float | None = None,
    fixed_classifier: str | float | None = None,
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
        :math:`\lambda_W > 0`, the same as an estimator's ``weight_decay``.
    feature_decay : float, optional
        The feature penalty as :class:`~sklearn_mlabnc.MLabNCClassifier` takes it (a
        per-sample mean), i.e. :math:`\lambda_H = 2\,\texttt{feature\_decay}/N`; an
        estimator's settings can be passed unchanged. Give this or ``lambda_h``, not both.
        With it :math:`N` cancels from the optimality conditions: :math:`c_m` depends only on
        :math:`\lambda_W \cdot \texttt{feature\_decay}`, :math:`K` and the proportions
        :math:`n_m / N`.
    lambda_h : float, optional
        :math:`\lambda_H > 0` itself. When neither is given, :math:`\lambda_H = 10^{-3}`.
    fixed_classifier : "etf", float or None, default=None
        ``None`` learns :math:`\alpha`. ``"etf"`` fixes :math:`W` to the unit-row simplex ETF
        (:math:`\alpha = 1`, the head of ``MLabNCClassifier(head="etf")``), a positive float
        to that multiple of it; only the features (and the bias, zero at the optimum) are
        then free, and each :math:`a_m` is the root of its optimality condition at that
        :math:`\alpha`.

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

    The same counts with the classifier fixed to the unit ETF, and an estimator's
    per-sample ``feature_decay``:

    >>> etf = reduced_problem({1: 3, 2: 1}, 4, weight_decay=5e-3, feature_decay=0.03,
    ...                       fixed_classifier="etf")
    >>> etf.alpha, round(etf.c_m[2], 5), round(etf.lambda_h, 6)
    (1.0, 1.70078, 0.003333)

    Strong regularisation makes the zero solution optimal:

    >>> reduced_problem({1: 3, 2: 1}, 4, weight_decay=0.5, lambda_h=0.5).collapsed
    True
    """
    K = int(n_classes)
    counts = _check_counts(n_per_multiplicity, K)
    lam_w = float(weight_decay)
    N = sum(n * math.comb(K, m) for m, n in counts.items())
    lam_h, per_sample = feature_penalty(feature_decay, lambda_h, N)
    fixed_alpha, fixed_name = None, None
    if fixed_classifier is not None:
        fixed_alpha = 1.0 if fixed_classifier == "etf" else float(fixed_classifier)
        fixed_name = "the unit ETF" if fixed_alpha == 1.0 else f"{fixed_alpha:g} x the unit ETF"

    ms = [m for m in counts if m < K]
    notes: list[str] = []
    # constant contribution of m = K: K w_K log K per sample (features are zero)
    const = 0.0
    if K in counts:
        w_K = loss_weight(loss, K)
        const = counts[K] * w_K * K * math.log(K) / N
        notes.append(
            f"Multiplicity m=K={K}: the features of the full label set are zero for every "
            "a_K; a_K is reported as 0 and c_K as NaN."
        )
    if ms and fixed_alpha is not None:
        # W fixed: the problem is convex in the features, and each a_m solves its own
        # optimality condition at the given alpha (the profile of the learned problem)
        prob = ReducedObjective(K, ms, [counts[m] for m in ms], N, loss, lam_w, lam_h)
        x = np.concatenate([[fixed_alpha], prob.profile(np.array([fixed_alpha]))[0]])
        obj = prob.value(x, const)
        zero_obj = prob.value(np.concatenate([[fixed_alpha], np.zeros(len(ms))]), const)
        zero_is_local_min = False
    elif ms:
        prob = ReducedObjective(K, ms, [counts[m] for m in ms], N, loss, lam_w, lam_h)
        x0 = np.zeros(len(ms) + 1)
        zero_obj = prob.value(x0, const)
        # Schur complement of the Hessian at zero: lam_w K - sum (A kappa (K-m)/(N K))^2/(lam_h B)
        schur = lam_w * K - sum(
            (prob.A[i] * prob.kappa * (K - prob.m[i]) / (N * K)) ** 2 / (lam_h * prob.B[i])
            for i in range(len(ms))
        )
        zero_is_local_min = bool(schur > 0)
        with threadpool_limits(limits=1, user_api="blas"):
            x, obj = solve_reduced(prob, const, zero_obj)
    else:
        alpha0 = 0.0 if fixed_alpha is None else fixed_alpha
        zero_obj = obj = const + 0.5 * lam_w * K * alpha0**2
        zero_is_local_min = fixed_alpha is None
        x = np.array([alpha0])

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
        lambda_h=lam_h,
        feature_decay=per_sample,
        fixed_classifier=fixed_name,
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
    residual = max(stationarity(sol).values())
    object.__setattr__(sol, "stationarity_residual", float(residual))
    return sol
