"""The reduced UFM objective in the scales ``(alpha, a_m)``, its conditions and minimiser."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

__all__ = ["ReducedObjective", "loss_weight", "solve_reduced", "stationarity", "unit_etf"]


def unit_etf(K: int) -> np.ndarray:
    """Unit-row simplex ETF ``sqrt(K/(K-1)) (I - 11^T/K)``, shape ``(K, K)``.

    Examples
    --------
    >>> from sklearn_mlabnc.ufm._reduced_objective import unit_etf
    >>> U = unit_etf(3)
    >>> round(float(U[0] @ U[0]), 12), round(float(U[0] @ U[1]), 12)
    (1.0, -0.5)
    """
    return math.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K)


def loss_weight(loss: str, m: int | np.ndarray) -> float | np.ndarray:
    """The weight ``w_m`` of a multiplicity-``m`` label set: 1 for PAL, ``1/m`` for PAL-N.

    Examples
    --------
    >>> from sklearn_mlabnc.ufm._reduced_objective import loss_weight
    >>> loss_weight("pal", 2), loss_weight("pal_normalized", 2)
    (1.0, 0.5)
    """
    if loss == "pal_normalized":
        return 1.0 / m
    return np.ones_like(m, dtype=np.float64) if isinstance(m, np.ndarray) else 1.0


class ReducedObjective:
    """The reduced objective ``F(alpha, a)`` over the multiplicities ``1 <= m < K``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm._reduced_objective import ReducedObjective
    >>> prob = ReducedObjective(4, [1, 2], [3, 1], 18, "pal", 5e-4, 1e-3)
    >>> x = np.array([2.0, 1.0, 0.5])
    >>> step = 1e-6 * np.eye(3)[0]
    >>> numeric = (prob.value(x + step) - prob.value(x - step)) / 2e-6
    >>> bool(np.isclose(prob.grad(x)[0], numeric, rtol=1e-6))
    True
    """

    def __init__(self, K, ms, n, N, loss, lam_w, lam_h):
        self.K = K
        self.kappa = K / (K - 1)
        self.m = np.asarray(ms, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        sizes = np.array([math.comb(K, m) for m in ms], dtype=np.float64)
        self.w = loss_weight(loss, self.m)
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


def stationarity(sol) -> dict[str, float]:
    """Relative residuals of the optimality conditions of a ``ReducedSolution``.

    With a fixed classifier only the feature conditions ``"m=<m>"`` apply.

    Examples
    --------
    >>> from sklearn_mlabnc.ufm import reduced_problem
    >>> from sklearn_mlabnc.ufm._reduced_objective import stationarity
    >>> sorted(stationarity(reduced_problem({1: 2, 2: 1}, 3, fixed_classifier="etf")))
    ['m=1', 'm=2']
    """
    K = sol.n_classes
    N = sol.n_samples
    out: dict[str, float] = {}
    for m in sorted(sol.a_m):
        if m >= K:
            continue
        w = loss_weight(sol.loss, m)
        t = sol.alpha * sol.a_m[m] * K / (K - 1)
        lhs = sol.lambda_h * sol.a_m[m] * (m * math.exp(t) + K - m)
        rhs = sol.alpha * K * w / N
        out[f"m={m}"] = abs(lhs - rhs) / max(abs(lhs), abs(rhs), np.finfo(float).tiny)
    if sol.fixed_classifier is not None:
        return out
    lw, lh = sol.weight_decay * sol.W_norm_sq, sol.lambda_h * sol.H_norm_sq
    out["balance"] = abs(lw - lh) / max(lw, lh, np.finfo(float).tiny)
    ms = [m for m in sorted(sol.a_m) if m < K]
    if ms and sol.alpha > 0:
        prob = ReducedObjective(
            K,
            ms,
            [sol.n_per_multiplicity[m] for m in ms],
            N,
            sol.loss,
            sol.weight_decay,
            sol.lambda_h,
        )
        x = np.array([sol.alpha] + [sol.a_m[m] for m in ms])
        out["grad_alpha"] = abs(prob.grad(x)[0]) / (sol.weight_decay * K * sol.alpha)
    else:
        out["grad_alpha"] = 0.0
    return out


def solve_reduced(
    prob: ReducedObjective, const: float, zero_obj: float
) -> tuple[np.ndarray, float]:
    """Global minimiser ``(x, F(x))`` of the reduced objective (see ``reduced_problem``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm._reduced_objective import ReducedObjective, solve_reduced
    >>> prob = ReducedObjective(4, [1, 2], [3, 1], 18, "pal", 5e-4, 1e-3)
    >>> x, value = solve_reduced(prob, 0.0, prob.value(np.zeros(3)))
    >>> bool(np.linalg.norm(prob.grad(x)) < 1e-12), round(float(x[0]), 5)
    (True, 3.86022)
    """
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
