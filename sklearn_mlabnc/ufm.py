r"""Unconstrained feature model (UFM) for multi-label learning.

The UFM treats the penultimate features as free variables and asks what a perfectly expressive
network would learn. With :math:`K` labels, feature dimension :math:`d` and :math:`N` samples it
solves

.. math::

    \min_{W, H, b}\; \frac1N \sum_i L(W h_i + b, S_i)
        + \frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_H}{2}\|H\|_F^2
        + \frac{\lambda_b}{2}\|b\|^2 ,

where :math:`S_i` is the label set of sample :math:`i` and :math:`L` is the pick-all-label
cross-entropy (PAL), its normalised variant (PAL-N) or one-vs-all BCE. Li, Li, Wang & Qu,
*Neural Collapse in Multi-label Learning with Pick-all-label Loss* (ICML 2024,
arXiv:2310.15903) prove that when every label set of the same multiplicity has the same number
of samples and :math:`d \ge K-1`, every global minimiser of the PAL problem exhibits
multi-label neural collapse (MLab NC): within-set features collapse, :math:`W` is a scaled
simplex ETF, singleton means are proportional to the rows of :math:`W`, and the mean of a set
of multiplicity :math:`m` is :math:`c_m` times the average of its singleton means.

This module offers two solvers:

* :func:`solve_ufm` minimises the full problem numerically for any 0/1 label matrix (balanced
  or not, any loss), so the theorem can be checked, and its failure under imbalance measured;
* :func:`reduced_problem` solves the theorem's reduced problem in the scale parameters
  :math:`\alpha, a_1, \dots, a_M` to machine precision and returns the predicted geometry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, special

__all__ = ["ReducedSolution", "UFMGeometry", "UFMSolution", "reduced_problem", "solve_ufm"]

_LOSSES = ("pal", "pal_normalized", "bce")
_REDUCED_LOSSES = ("pal", "pal_normalized")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _etf(K: int) -> np.ndarray:
    """Unit-row simplex ETF ``sqrt(K/(K-1)) (I - 11^T/K)``, shape ``(K, K)``."""
    return math.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K)


def _check_loss(loss: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(loss, str) or loss not in allowed:
        raise ValueError(
            f"Unknown loss {loss!r}; expected one of {', '.join(repr(s) for s in allowed)}."
        )
    return loss


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (np.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return value


def _check_indicator(Y: Any, loss: str) -> np.ndarray:
    if hasattr(Y, "toarray"):  # scipy sparse
        Y = Y.toarray()
    elif hasattr(Y, "detach"):  # torch tensor
        Y = Y.detach().cpu().numpy()
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[0] == 0 or Y.shape[1] < 2:
        raise ValueError(
            "Y must be a 2-D (n_samples, n_classes) 0/1 indicator matrix with at least one row "
            f"and two columns; got shape {Y.shape}."
        )
    if not (Y.dtype == bool or np.issubdtype(Y.dtype, np.number)):
        raise ValueError(f"Y must be numeric or boolean; got dtype {Y.dtype}.")
    Yf = Y.astype(np.float64)
    if not np.all((Yf == 0) | (Yf == 1)):
        bad = np.unique(Yf[(Yf != 0) & (Yf != 1)])[:5]
        raise ValueError(
            f"Y must be a 0/1 indicator matrix; found other values, e.g. {bad.tolist()}."
        )
    if loss != "bce":
        empty = np.flatnonzero(Yf.sum(axis=1) == 0)
        if empty.size:
            raise ValueError(
                f"The {loss!r} loss is undefined for samples with no labels (empty label set); "
                f"{empty.size} such row(s) found, e.g. row {int(empty[0])}. Drop them or use "
                "loss='bce'."
            )
    return Yf


def _set_targets(label_sets: np.ndarray, loss: str) -> np.ndarray:
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


def _objective_sets(
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
    """Set-level UFM objective and its exact gradient (``weights = counts / N``)."""
    n_sets = T.shape[0]
    W = theta[: K * d].reshape(K, d)
    Hs = theta[K * d : K * d + n_sets * d].reshape(n_sets, d)
    b = theta[K * d + n_sets * d :]
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


def _hessp_sets(
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
    """Exact Hessian-vector product of :func:`_objective_sets`."""
    n_sets = T.shape[0]
    sl_w, sl_h = slice(0, K * d), slice(K * d, K * d + n_sets * d)
    W, dW = theta[sl_w].reshape(K, d), v[sl_w].reshape(K, d)
    Hs, dH = theta[sl_h].reshape(n_sets, d), v[sl_h].reshape(n_sets, d)
    b, db = theta[K * d + n_sets * d :], v[K * d + n_sets * d :]
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


def _minimise(
    theta: np.ndarray, args: tuple, tol: float, budget: int
) -> tuple[np.ndarray, int, str]:
    # Stage 1: L-BFGS from the random start. Near the minimum the objective's decrease
    # (~ |grad|^2 / curvature) drops below float64 resolution around |grad| ~ 1e-8, where
    # line searches stall. Stage 2 therefore polishes with Newton steps on the stationarity
    # equations grad = 0 (exact Hessian-vector products, MINRES, which copes with the
    # rotational null space), accepted while the gradient norm decreases.
    res = optimize.minimize(
        _objective_sets,
        theta,
        args=args,
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": budget,
            "maxfun": 2 * budget,
            "maxcor": 30,
            "ftol": 1e-15,
            "gtol": tol / math.sqrt(theta.size),
        },
    )
    theta, n_iter, message = res.x, int(res.nit), f"L-BFGS-B: {res.message}"
    theta, n_newton = _newton_polish(theta, args, tol)
    if n_newton:
        message += f"; {n_newton} Newton polishing step(s)"
    return theta, n_iter + n_newton, message


def _blas_single_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a scikit-learn dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _newton_polish(theta: np.ndarray, args: tuple, tol: float) -> tuple[np.ndarray, int]:
    """Newton iterations on ``grad = 0`` while the gradient norm decreases."""
    from scipy.sparse.linalg import LinearOperator, minres

    f, g = _objective_sets(theta, *args)
    g_norm = float(np.linalg.norm(g))
    n_steps = 0
    for _ in range(30):
        if g_norm <= 1e-3 * tol:
            break
        if theta.size <= 600:
            # dense Hessian, pseudo-inverse solve (the rotations form an exact null space)
            hess = np.column_stack([_hessp_sets(theta, e, *args) for e in np.eye(theta.size)])
            step = -np.linalg.lstsq(0.5 * (hess + hess.T), g, rcond=1e-9)[0]
        else:
            op = LinearOperator(
                (theta.size, theta.size),
                matvec=lambda v, th=theta: _hessp_sets(th, np.ravel(v), *args),
                dtype=np.float64,
            )
            step = minres(op, -g, rtol=1e-12, maxiter=10 * theta.size)[0]
        cand = theta + step
        f_new, g_new = _objective_sets(cand, *args)
        g_new_norm = float(np.linalg.norm(g_new))
        # a Newton step near a minimiser must not increase the objective beyond rounding
        if not (g_new_norm < g_norm and f_new <= f + 1e-12 * max(1.0, abs(f))):
            break
        theta, f, g, g_norm = cand, f_new, g_new, g_new_norm
        n_steps += 1
    return theta, n_steps


def _balance_notes(label_sets: np.ndarray, counts: np.ndarray, K: int) -> list[str]:
    """Describe how the label sets deviate from the UFM theorem's balance assumption."""
    notes = []
    sizes = label_sets.sum(axis=1).astype(int)
    for m in np.unique(sizes):
        c = counts[sizes == m]
        n_possible = math.comb(K, int(m))
        if c.min() != c.max():
            notes.append(
                f"Imbalance within multiplicity {m}: label-set counts range from {c.min()} to "
                f"{c.max()} over {c.size} set(s); the UFM theorem assumes equal counts, so "
                "exact MLab NC geometry is not expected."
            )
        if 0 < m < K and c.size < n_possible:
            notes.append(
                f"Only {c.size} of the {n_possible} label sets of multiplicity {m} occur; the "
                "UFM theorem's balanced setting has all of them, so exact MLab NC geometry is "
                "not expected."
            )
    return notes


# --------------------------------------------------------------------------------------------
# full UFM
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class UFMSolution:
    """Numerical minimiser of the unconstrained feature model, returned by :func:`solve_ufm`.

    Attributes
    ----------
    W : ndarray of shape (n_classes, n_features)
        Classifier weights.
    H : ndarray of shape (n_samples, n_features)
        Per-sample features (``set_features`` expanded through ``set_index``).
    b : ndarray of shape (n_classes,)
        Classifier bias.
    Y : ndarray of shape (n_samples, n_classes)
        The label matrix the model was fitted to (float 0/1).
    label_sets : ndarray of shape (n_sets, n_classes)
        The distinct rows of ``Y``.
    set_counts : ndarray of shape (n_sets,)
        Number of samples with each label set.
    set_index : ndarray of shape (n_samples,)
        Row of ``label_sets`` for each sample.
    set_features : ndarray of shape (n_sets, n_features)
        The optimal feature of each label set.
    loss : str
        ``"pal"``, ``"pal_normalized"`` or ``"bce"``.
    weight_decay, feature_decay, bias_decay : float
        The regularisation strengths :math:`\\lambda_W, \\lambda_H, \\lambda_b`.
    objective : float
        Objective value at the solution (equal to the per-sample objective).
    grad_norm : float
        Euclidean norm of the gradient of the set-level objective at the solution (the
        per-sample gradient in :math:`h_i` is the set gradient divided by :math:`n_S`).
    n_iter : int
        L-BFGS iterations plus Newton polishing steps.
    converged : bool
        Whether ``grad_norm <= tol``.
    message : str
        The optimiser's final message.
    notes : list of str
        Warnings about the setting, e.g. imbalance within a multiplicity or ``d < K - 1``.
    """

    W: np.ndarray
    H: np.ndarray
    b: np.ndarray
    Y: np.ndarray
    label_sets: np.ndarray
    set_counts: np.ndarray
    set_index: np.ndarray
    set_features: np.ndarray
    loss: str
    weight_decay: float
    feature_decay: float
    bias_decay: float
    objective: float
    grad_norm: float
    n_iter: int
    converged: bool
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def logits(self) -> np.ndarray:
        """Logits ``H W^T + b`` of every sample, shape ``(n_samples, n_classes)``."""
        return self.H @ self.W.T + self.b

    @property
    def theorem_applies(self) -> bool:
        """Whether the data satisfy the UFM theorem's assumptions (balance, ``d >= K - 1``)."""
        return not self.notes and self.loss != "bce"

    def report(self, **options: Any) -> Any:
        """MLab NC metrics of the solution.

        Calls ``collapse_report(H, Y, W=W, b=b, **options)`` from
        :mod:`sklearn_mlabnc.collapse` and appends to the report's notes this solution's own
        caveats that the report does not already state (label sets missing from a
        multiplicity, ``d < K - 1``, BCE, a zero bias).

        Parameters
        ----------
        **options
            Forwarded to :func:`sklearn_mlabnc.collapse.collapse_report`.

        Returns
        -------
        CollapseReport
            The metrics; ``nc1``, ``nc2_means``, ``nc2_classifier``, ``nc3`` and ``nc_m`` are
            ~0 at an exact MLab NC solution.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.ufm import solve_ufm
        >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]])
        >>> rep = solve_ufm(np.repeat(Y, 2, axis=0), random_state=0).report()
        >>> rep.nc2_classifier < 1e-8, rep.nc3 < 1e-8, rep.nc_m[2] < 1e-8
        (True, True, True)
        """
        from sklearn_mlabnc.collapse import collapse_report

        rep = collapse_report(self.H, self.Y, W=self.W, b=self.b, **options)
        existing = tuple(getattr(rep, "notes", ()))
        reported_imbalance = any("imbalanc" in str(n).lower() for n in existing)
        extra = [
            n
            for n in self.notes
            if n not in existing and not (reported_imbalance and n.startswith("Imbalance"))
        ]
        scale = 1.0 + float(np.abs(self.logits).max())
        if float(np.abs(self.b).max()) <= 1e-8 * scale:
            extra.append(
                f"The solution's bias is numerically zero (max |b| = {np.abs(self.b).max():.1e})"
                ", so bias_deviation, a ratio to ||b||, measures rounding noise only."
            )
        if not extra or not dataclasses.is_dataclass(rep):
            return rep
        return dataclasses.replace(rep, notes=existing + tuple(extra))


def solve_ufm(
    Y: Any,
    *,
    n_features: int | None = None,
    loss: str = "pal",
    weight_decay: float = 5e-4,
    feature_decay: float = 1e-3,
    bias_decay: float = 0.0,
    max_iter: int = 20000,
    tol: float = 1e-10,
    init_scale: float = 1.0,
    random_state: int | np.random.Generator | None = None,
) -> UFMSolution:
    r"""Minimise the unconstrained feature model for a multi-label indicator matrix.

    Solves, in float64,

    .. math::

        \min_{W, H, b}\; \frac1N \sum_{i=1}^N L(W h_i + b, S_i)
            + \frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_H}{2}\|H\|_F^2
            + \frac{\lambda_b}{2}\|b\|^2

    over free :math:`W \in \mathbb R^{K\times d}`, :math:`H \in \mathbb R^{N\times d}` and
    :math:`b \in \mathbb R^K` from a seeded random start: L-BFGS
    (:func:`scipy.optimize.minimize`, exact analytic gradient), then Newton steps on the
    stationarity equations with the exact Hessian (pseudo-inverse, as rotations
    :math:`(W, H) \mapsto (WQ, HQ)` leave the objective unchanged), which take the gradient
    norm from the ~1e-8 where line searches stall on float64 rounding to ~1e-14. The problem
    is non-convex; the paper shows its landscape is benign, and in practice every seed reaches
    the same minimum.

    **Reduction to label sets.** For fixed :math:`(W, b)` the terms involving one feature,
    :math:`\frac1N L(W h_i + b, S_i) + \frac{\lambda_H}{2}\|h_i\|^2`, are strictly convex in
    :math:`h_i` (:math:`L` is convex in the logits and :math:`\lambda_H > 0`) and depend on
    the sample only through its label set, so all samples sharing a label set :math:`S` share
    the same optimal feature :math:`h_S`. The solver therefore optimises one feature per
    distinct label set, weighted by its count :math:`n_S`:
    :math:`\frac1N \sum_S n_S L(W h_S + b, S) + \frac{\lambda_W}{2}\|W\|_F^2
    + \frac{\lambda_H}{2}\sum_S n_S \|h_S\|^2 + \frac{\lambda_b}{2}\|b\|^2`. Its minimum
    equals the per-sample minimum, and its minimisers, expanded to samples, are exactly the
    per-sample minimisers (the per-sample problem has no minimiser with unequal features in a
    set). The cost is independent of the number of samples.

    Parameters
    ----------
    Y : array-like, scipy sparse or torch.Tensor of shape (n_samples, n_classes)
        0/1 label indicator matrix; any label sets and any counts. With the PAL losses every
        row needs at least one label.
    n_features : int, optional
        Feature dimension :math:`d`; defaults to ``n_classes``. The UFM theorem needs
        :math:`d \ge K - 1`; a smaller value triggers a warning.
    loss : {"pal", "pal_normalized", "bce"}, default="pal"
        Pick-all-label cross-entropy :math:`\sum_{k\in S} -\log\mathrm{softmax}(z)_k`, its
        normalised variant (targets divided by :math:`|S|`), or one-vs-all binary
        cross-entropy summed over labels.
    weight_decay : float, default=5e-4
        :math:`\lambda_W > 0`.
    feature_decay : float, default=1e-3
        :math:`\lambda_H > 0` (multiplies the *sum* over samples of :math:`\|h_i\|^2`).
    bias_decay : float, default=0.0
        :math:`\lambda_b \ge 0`; the bias is unregularised by default. The bias starts at
        zero; the softmax losses are invariant to adding a constant to all logits, so for them
        the mean of ``b`` stays zero.
    max_iter : int, default=20000
        Maximum total number of L-BFGS iterations.
    tol : float, default=1e-10
        Target Euclidean norm of the gradient.
    init_scale : float, default=1.0
        Standard deviation of the Gaussian initialisation of :math:`W` and the features,
        divided by :math:`\sqrt d`.
    random_state : int, numpy Generator or None, default=None
        Seed of the random initialisation.

    Returns
    -------
    UFMSolution
        Weights, features, bias, objective, gradient norm and convergence information; call
        ``.report()`` for the MLab NC metrics.

    Raises
    ------
    ValueError
        If ``Y`` is not a 0/1 matrix, has an empty row with a PAL loss, the loss is unknown,
        or a regularisation strength is out of range.

    See Also
    --------
    reduced_problem : closed-form scales of the collapsed solution for balanced data.

    Examples
    --------
    Three labels, two samples per singleton and one per pair:

    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm import reduced_problem, solve_ufm
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]] * 2 + [[1, 1, 0], [1, 0, 1], [0, 1, 1]])
    >>> sol = solve_ufm(Y, random_state=0)
    >>> sol.converged, sol.H.shape, sol.set_features.shape
    (True, (9, 3), (6, 3))
    >>> alpha = np.linalg.norm(sol.W, axis=1)  # every row has the same norm
    >>> ref = reduced_problem({1: 2, 2: 1}, 3)
    >>> bool(np.allclose(alpha, ref.alpha, rtol=1e-6))
    True
    >>> round(ref.alpha, 4)
    3.253
    """
    loss = _check_loss(loss, _LOSSES)
    Yf = _check_indicator(Y, loss)
    lam_w = _check_positive("weight_decay", weight_decay)
    lam_h = _check_positive("feature_decay", feature_decay)
    lam_b = _check_positive("bias_decay", bias_decay, allow_zero=True)
    tol = _check_positive("tol", tol)
    N, K = Yf.shape
    d = K if n_features is None else int(n_features)
    if d < 1:
        raise ValueError(f"n_features must be a positive integer; got {n_features!r}.")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}.")

    label_sets, set_index, counts = np.unique(Yf, axis=0, return_inverse=True, return_counts=True)
    set_index = set_index.reshape(-1)
    counts = counts.astype(np.float64)
    notes = _balance_notes(label_sets, counts.astype(int), K)
    if d < K - 1:
        msg = (
            f"n_features={d} < n_classes - 1 = {K - 1}: the UFM theorem (simplex-ETF "
            "classifier) does not apply; the solution cannot be an ETF."
        )
        warnings.warn(msg, UserWarning, stacklevel=2)
        notes.append(msg)
    if loss == "bce":
        notes.append(
            "loss='bce': the MLab NC theorem is proved for the PAL losses only; the BCE "
            "geometry is reported for comparison."
        )

    n_sets = label_sets.shape[0]
    T = _set_targets(label_sets, loss)
    weights = counts / N
    rng = np.random.default_rng(random_state)
    scale = float(init_scale) / math.sqrt(d)
    theta = np.concatenate([rng.normal(scale=scale, size=K * d + n_sets * d), np.zeros(K)])
    args = (T, weights, counts, K, d, loss, lam_w, lam_h, lam_b)

    # Tiny matrix products are slowed down ~10x by multi-threaded BLAS; run small problems
    # single-threaded (threadpoolctl ships with scikit-learn).
    small = theta.size * K <= 1_000_000
    with _blas_single_thread() if small else contextlib.nullcontext():
        theta, n_iter, message = _minimise(theta, args, tol, int(max_iter))

    objective, grad = _objective_sets(theta, *args)
    grad_norm = float(np.linalg.norm(grad))
    W = theta[: K * d].reshape(K, d).copy()
    Hs = theta[K * d : K * d + n_sets * d].reshape(n_sets, d).copy()
    b = theta[K * d + n_sets * d :].copy()
    return UFMSolution(
        W=W,
        H=Hs[set_index],
        b=b,
        Y=Yf,
        label_sets=label_sets,
        set_counts=counts.astype(int),
        set_index=set_index,
        set_features=Hs,
        loss=loss,
        weight_decay=lam_w,
        feature_decay=lam_h,
        bias_decay=lam_b,
        objective=float(objective),
        grad_norm=grad_norm,
        n_iter=n_iter,
        converged=bool(grad_norm <= tol),
        message=message,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# reduced problem
# --------------------------------------------------------------------------------------------
class UFMGeometry(NamedTuple):
    """Predicted collapsed UFM geometry built by :meth:`ReducedSolution.geometry`."""

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
        self.w = 1.0 / self.m if loss == "pal_normalized" else np.ones_like(self.m)
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

    def fun_and_grad(self, x):
        return self.value(x), self.grad(x)


def _stationarity(sol: ReducedSolution) -> dict[str, float]:
    K = sol.n_classes
    N = sol.n_samples
    out: dict[str, float] = {}
    for m in sorted(sol.a_m):
        if m >= K:
            continue
        w = 1.0 / m if sol.loss == "pal_normalized" else 1.0
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


def _check_counts(n_per_multiplicity: Mapping[int, int], K: int) -> dict[int, int]:
    if not isinstance(n_per_multiplicity, Mapping):
        raise ValueError(
            "n_per_multiplicity must be a dict {multiplicity m: samples per label set of "
            f"size m}}; got {type(n_per_multiplicity).__name__}."
        )
    counts: dict[int, int] = {}
    for m, n in n_per_multiplicity.items():
        if int(m) != m or not 1 <= int(m) <= K:
            raise ValueError(f"Multiplicities must be integers in [1, {K}]; got {m!r}.")
        if int(n) != n or n < 0:
            raise ValueError(f"Sample counts must be non-negative integers; got {n!r} for m={m}.")
        if n > 0:
            counts[int(m)] = int(n)
    if not counts:
        raise ValueError("n_per_multiplicity has no positive count.")
    return dict(sorted(counts.items()))


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
    loss = _check_loss(loss, _REDUCED_LOSSES)
    K = int(n_classes)
    if K != n_classes or K < 2:
        raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
    counts = _check_counts(n_per_multiplicity, K)
    lam_w = _check_positive("weight_decay", weight_decay)
    lam_h = _check_positive("feature_decay", feature_decay)

    N = sum(n * math.comb(K, m) for m, n in counts.items())
    ms = [m for m in counts if m < K]
    notes: list[str] = []
    # constant contribution of m = K: K w_K log K per sample (features are zero)
    const = 0.0
    if K in counts:
        w_K = 1.0 / K if loss == "pal_normalized" else 1.0
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
        with _blas_single_thread():
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
