r"""The UFM objective over label sets, its exact derivatives, and its minimiser.

All samples sharing a label set share the optimal feature (see
:func:`~sklearn_mlabnc.ufm.solve_ufm`), so the objective is written over the distinct label
sets :math:`S` with counts :math:`n_S`:

.. math::

    \frac1N \sum_S n_S L(W h_S + b, S) + \frac{\lambda_W}{2}\|W\|_F^2
    + \frac{\lambda_H}{2}\sum_S n_S \|h_S\|^2 + \frac{\lambda_b}{2}\|b\|^2 .

The parameters are packed in one vector ``theta = [W.ravel(), H_sets.ravel(), b]``; every
function here takes the same ``args = (T, weights, counts, K, d, loss, lam_w, lam_h, lam_b)``,
with ``T`` the targets of :func:`set_targets` and ``weights = counts / N``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, special
from scipy.sparse.linalg import LinearOperator, minres

__all__ = ["minimise", "set_objective", "set_targets", "unpack_parameters"]


def set_targets(label_sets: np.ndarray, loss: str) -> np.ndarray:
    """Loss targets of each label set: its indicator, divided by ``|S|`` for PAL-N.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm._objective import set_targets
    >>> set_targets(np.array([[1.0, 1.0, 0.0]]), "pal_normalized").tolist()
    [[0.5, 0.5, 0.0]]
    """
    if loss == "pal_normalized":
        return label_sets / label_sets.sum(axis=1, keepdims=True)
    return label_sets


def _logsumexp(Z: np.ndarray) -> np.ndarray:
    top = Z.max(axis=1, keepdims=True)
    return top + np.log(np.exp(Z - top).sum(axis=1, keepdims=True))


def _loss_and_grad(Z: np.ndarray, T: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss and its gradient with respect to the logits ``Z``."""
    if loss == "bce":
        per_row = (np.logaddexp(0.0, Z) - T * Z).sum(axis=1)
        return per_row, special.expit(Z) - T
    lse = _logsumexp(Z)
    mass = T.sum(axis=1, keepdims=True)
    per_row = mass[:, 0] * lse[:, 0] - (T * Z).sum(axis=1)
    return per_row, mass * np.exp(Z - lse) - T


def unpack_parameters(
    theta: np.ndarray, K: int, d: int, n_sets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, H_sets, b)`` views of the packed parameter vector ``theta``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm._objective import unpack_parameters
    >>> W, H_sets, b = unpack_parameters(np.arange(2 * 3 + 4 * 3 + 2.0), 2, 3, 4)
    >>> W.shape, H_sets.shape, b.tolist()
    ((2, 3), (4, 3), [18.0, 19.0])
    """
    W = theta[: K * d].reshape(K, d)
    Hs = theta[K * d : K * d + n_sets * d].reshape(n_sets, d)
    return W, Hs, theta[K * d + n_sets * d :]


def set_objective(
    theta: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray,
    K: int,
    d: int,
    loss: str,
    lam_w: float,
    lam_h: float,
    lam_b: float,
) -> tuple[float, np.ndarray]:
    """Set-level UFM objective at ``theta`` and its exact gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm._objective import set_objective, set_targets
    >>> sets = np.eye(2)
    >>> args = (set_targets(sets, "pal"), np.array([0.5, 0.5]), np.ones(2), 2, 2, "pal",
    ...         0.0, 0.0, 0.0)
    >>> f, grad = set_objective(np.zeros(2 * 2 + 2 * 2 + 2), *args)
    >>> bool(np.isclose(f, np.log(2))), grad.shape
    (True, (10,))
    """
    W, Hs, b = unpack_parameters(theta, K, d, T.shape[0])
    Z = Hs @ W.T + b
    per_set, G = _loss_and_grad(Z, T, loss)
    Gw = G * weights[:, None]
    f = (
        float(weights @ per_set)
        + 0.5 * lam_w * float(np.sum(W * W))
        + 0.5 * lam_h * float(counts @ np.sum(Hs * Hs, axis=1))
        + 0.5 * lam_b * float(b @ b)
    )
    grad = np.concatenate(
        [
            (Gw.T @ Hs + lam_w * W).ravel(),
            (Gw @ W + lam_h * counts[:, None] * Hs).ravel(),
            Gw.sum(axis=0) + lam_b * b,
        ]
    )
    return f, grad


def _hessp(
    theta: np.ndarray,
    v: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray,
    K: int,
    d: int,
    loss: str,
    lam_w: float,
    lam_h: float,
    lam_b: float,
) -> np.ndarray:
    """Exact Hessian-vector product of :func:`set_objective`."""
    n_sets = T.shape[0]
    W, Hs, b = unpack_parameters(theta, K, d, n_sets)
    dW, dH, db = unpack_parameters(v, K, d, n_sets)
    Z = Hs @ W.T + b
    _, G = _loss_and_grad(Z, T, loss)
    dZ = Hs @ dW.T + dH @ W.T + db
    if loss == "bce":
        s = special.expit(Z)
        dG = s * (1.0 - s) * dZ
    else:
        mass = T.sum(axis=1, keepdims=True)
        P = np.exp(Z - _logsumexp(Z))
        dG = mass * P * (dZ - np.sum(P * dZ, axis=1, keepdims=True))
    Gw, dGw = G * weights[:, None], dG * weights[:, None]
    return np.concatenate(
        [
            (dGw.T @ Hs + Gw.T @ dH + lam_w * dW).ravel(),
            (dGw @ W + Gw @ dW + lam_h * counts[:, None] * dH).ravel(),
            dGw.sum(axis=0) + lam_b * db,
        ]
    )


class _Restricted:
    """:func:`set_objective` and its Hessian over the entries ``free`` of ``theta`` only.

    The other entries stay at their values in ``theta`` (a fixed classifier ``W``).
    """

    def __init__(self, theta: np.ndarray, free: np.ndarray, args: tuple) -> None:
        self.base, self.free, self.args = theta.copy(), free, args

    def full(self, x: np.ndarray) -> np.ndarray:
        out = self.base.copy()
        out[self.free] = x
        return out

    def objective(self, x: np.ndarray, *_: Any) -> tuple[float, np.ndarray]:
        f, g = set_objective(self.full(x), *self.args)
        return f, g[self.free]

    def hessp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        dv = np.zeros_like(self.base)
        dv[self.free] = v
        return _hessp(self.full(x), dv, *self.args)[self.free]


def minimise(
    theta: np.ndarray, args: tuple, tol: float, budget: int, free: np.ndarray | None = None
) -> tuple[np.ndarray, int, str]:
    """Minimise :func:`set_objective` from ``theta``: L-BFGS, then Newton polishing.

    ``free`` (a boolean mask over ``theta``) restricts the minimisation to those entries, the
    others staying at their starting values (a fixed classifier). Returns the minimiser, the
    number of L-BFGS iterations plus Newton steps, and a message.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm._objective import minimise, set_objective, set_targets
    >>> sets, counts = np.eye(3), np.ones(3)
    >>> args = (set_targets(sets, "pal"), counts / 3, counts, 3, 3, "pal", 5e-4, 1e-3, 0.0)
    >>> theta0 = np.random.default_rng(0).normal(scale=0.5, size=3 * 3 + 3 * 3 + 3)
    >>> theta, n_iter, message = minimise(theta0, args, 1e-10, 1000)
    >>> bool(np.linalg.norm(set_objective(theta, *args)[1]) <= 1e-10)
    True

    With ``W`` (the first 9 entries) held fixed only the features and the bias move:

    >>> free = np.arange(theta0.size) >= 9
    >>> fixed, _, _ = minimise(theta0, args, 1e-10, 1000, free=free)
    >>> bool(np.array_equal(fixed[:9], theta0[:9]))
    True
    >>> bool(np.linalg.norm(set_objective(fixed, *args)[1][free]) <= 1e-10)
    True
    """
    if free is None:
        free = np.ones(theta.size, dtype=bool)
    problem = _Restricted(theta, free, args)
    # Stage 1: L-BFGS from the random start. Near the minimum the objective's decrease
    # (~ |grad|^2 / curvature) drops below float64 resolution around |grad| ~ 1e-8, where
    # line searches stall. Stage 2 therefore polishes with Newton steps on the stationarity
    # equations grad = 0 (exact Hessian-vector products, MINRES, which copes with the
    # rotational null space), accepted while the gradient norm decreases.
    res = optimize.minimize(
        problem.objective,
        theta[free],
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": budget,
            "maxfun": 2 * budget,
            "maxcor": 30,
            "ftol": 1e-15,
            "gtol": tol / math.sqrt(int(free.sum())),
        },
    )
    x, n_iter, message = res.x, int(res.nit), f"L-BFGS-B: {res.message}"
    x, n_newton = _newton_polish(x, problem, tol)
    if n_newton:
        message += f"; {n_newton} Newton polishing step(s)"
    return problem.full(x), n_iter + n_newton, message


def _newton_polish(theta: np.ndarray, problem: _Restricted, tol: float) -> tuple[np.ndarray, int]:
    """Newton iterations on ``grad = 0`` while the gradient norm decreases."""
    f, g = problem.objective(theta)
    g_norm = float(np.linalg.norm(g))
    n_steps = 0
    for _ in range(30):
        if g_norm <= 1e-3 * tol:
            break
        if theta.size <= 600:
            # dense Hessian, pseudo-inverse solve (the rotations form an exact null space)
            hess = np.column_stack([problem.hessp(theta, e) for e in np.eye(theta.size)])
            step = -np.linalg.lstsq(0.5 * (hess + hess.T), g, rcond=1e-9)[0]
        else:
            op = LinearOperator(
                (theta.size, theta.size),
                matvec=lambda v, th=theta: problem.hessp(th, np.ravel(v)),
                dtype=np.float64,
            )
            step = minres(op, -g, rtol=1e-12, maxiter=10 * theta.size)[0]
        cand = theta + step
        f_new, g_new = problem.objective(cand)
        g_new_norm = float(np.linalg.norm(g_new))
        # a Newton step near a minimiser must not increase the objective beyond rounding
        if not (g_new_norm < g_norm and f_new <= f + 1e-12 * max(1.0, abs(f))):
            break
        theta, f, g, g_norm = cand, f_new, g_new, g_new_norm
        n_steps += 1
    return theta, n_steps
