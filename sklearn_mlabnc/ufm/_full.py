"""Numerical minimiser of the full unconstrained feature model, for any labels and loss."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from threadpoolctl import threadpool_limits

from ..collapse import collapse_report, label_statistics
from ..collapse._labels import IndicatorMatrix
from ._decays import describe_problem, feature_penalty
from ._objective import minimise, set_objective, set_targets, unpack_parameters

__all__ = ["UFMSolution", "solve_ufm"]


def _indicator(Y: Any, loss: str) -> np.ndarray:
    """``Y`` as a float64 0/1 matrix, checked for what the UFM needs beyond an indicator."""
    ind = IndicatorMatrix(Y)
    if ind.n == 0 or ind.K < 2:
        raise ValueError(
            "Y must be a 2-D (n_samples, n_classes) 0/1 indicator matrix with at least one row "
            f"and two columns; got shape ({ind.n}, {ind.K})."
        )
    Yf = ind.numpy_chunk(0, ind.n).astype(np.float64)
    if loss != "bce":
        empty = np.flatnonzero(Yf.sum(axis=1) == 0)
        if empty.size:
            raise ValueError(
                f"The {loss!r} loss is undefined for samples with no labels (empty label set); "
                f"{empty.size} such row(s) found, e.g. row {int(empty[0])}. Drop them or use "
                "loss='bce'."
            )
    return Yf


def _balance_notes(Y: np.ndarray) -> list[str]:
    """Describe how the label sets of ``Y`` deviate from the UFM theorem's balance assumption."""
    stats = label_statistics(Y)
    K = stats["n_labels"]
    notes = []
    for m, (low, high) in stats["count_range"].items():
        n_sets, n_possible = stats["sets_per_multiplicity"][m], math.comb(K, m)
        if low != high:
            notes.append(
                f"Imbalance within multiplicity {m}: label-set counts range from {low} to "
                f"{high} over {n_sets} set(s); the UFM theorem assumes equal counts, so "
                "exact MLab NC geometry is not expected."
            )
        if 0 < m < K and n_sets < n_possible:
            notes.append(
                f"Only {n_sets} of the {n_possible} label sets of multiplicity {m} occur; the "
                "UFM theorem's balanced setting has all of them, so exact MLab NC geometry is "
                "not expected."
            )
    return notes


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
    weight_decay, lambda_h, bias_decay : float
        The regularisation strengths :math:`\\lambda_W, \\lambda_H, \\lambda_b`.
    feature_decay : float
        The same feature penalty as an estimator's per-sample ``feature_decay``,
        :math:`\\lambda_H N / 2`.
    fixed_classifier : str or None
        ``None`` when ``W`` was learned; otherwise what it was fixed to (``"the unit ETF"``
        or ``"the given W"``).
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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.ufm import solve_ufm
    >>> sol = solve_ufm(np.array([[1, 0], [0, 1], [1, 1]]), random_state=0)
    >>> sol.W.shape, sol.H.shape, sol.logits.shape, sol.converged
    ((2, 2), (3, 2), (3, 2), True)
    >>> sol.theorem_applies  # the pair {0, 1} is the full label set: nothing is missing
    True
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
    lambda_h: float
    feature_decay: float
    bias_decay: float
    fixed_classifier: str | None
    objective: float
    grad_norm: float
    n_iter: int
    converged: bool
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str:
        """One line naming the problem solved: loss, learned or fixed ``W``, decays."""
        return describe_problem(
            solver="full",
            loss=self.loss,
            fixed_classifier=self.fixed_classifier,
            weight_decay=self.weight_decay,
            lambda_h=self.lambda_h,
            feature_decay=self.feature_decay,
            bias_decay=self.bias_decay,
        )

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
        multiplicity, ``d < K - 1``, BCE, a zero bias under ``bias_metric="ratio"``).

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
        rep = collapse_report(self.H, self.Y, W=self.W, b=self.b, **options)
        existing = tuple(getattr(rep, "notes", ()))
        reported_imbalance = any("imbalanc" in str(n).lower() for n in existing)
        extra = [
            n
            for n in self.notes
            if n not in existing and not (reported_imbalance and n.startswith("Imbalance"))
        ]
        scale = 1.0 + float(np.abs(self.logits).max())
        ratio = rep.options.get("bias_metric") == "ratio"
        if ratio and float(np.abs(self.b).max()) <= 1e-8 * scale:
            extra.append(
                f"The solution's bias is numerically zero (max |b| = {np.abs(self.b).max():.1e})"
                ", so bias_deviation, a ratio to ||b||, measures rounding noise only."
            )
        if not extra:
            return rep
        return dataclasses.replace(rep, notes=existing + tuple(extra))


_POSITIVE = Interval(Real, 0, np.inf, closed="neither")


@validate_params(
    {
        "Y": ["array-like", "sparse matrix"],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
        "loss": [StrOptions({"pal", "pal_normalized", "bce"})],
        "weight_decay": [_POSITIVE],
        "feature_decay": [_POSITIVE, None],
        "lambda_h": [_POSITIVE, None],
        "bias_decay": [Interval(Real, 0, np.inf, closed="left")],
        "fixed_classifier": [StrOptions({"etf"}), "array-like", None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [_POSITIVE],
        "init_scale": [_POSITIVE],
        "random_state": ["random_state", np.random.Generator],
    },
    prefer_skip_nested_validation=True,
)
def solve_ufm(
    Y: Any,
    *,
    n_features: int | None = None,
    loss: str = "pal",
    weight_decay: float = 5e-4,
    feature_decay: float | None = None,
    lambda_h: float | None = None,
    bias_decay: float = 0.0,
    fixed_classifier: str | Any | None = None,
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
    :math:`b \in \mathbb R^K` (or over :math:`H` and :math:`b` only, with ``W`` fixed to
    ``fixed_classifier``, the model of a network with a fixed ETF head) from a seeded random
    start: L-BFGS
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
        :math:`\lambda_W > 0`, the same as an estimator's ``weight_decay``.
    feature_decay : float, optional
        The feature penalty as :class:`~sklearn_mlabnc.MLabNCClassifier` takes it,
        ``feature_decay * mean_i ||h_i||^2``, i.e. :math:`\lambda_H = 2\,
        \texttt{feature\_decay}/N`: an estimator's settings can be passed unchanged. Give
        this or ``lambda_h``, not both.
    lambda_h : float, optional
        :math:`\lambda_H > 0` itself (multiplies half the *sum* over samples of
        :math:`\|h_i\|^2`). When neither is given, :math:`\lambda_H = 10^{-3}`.
    bias_decay : float, default=0.0
        :math:`\lambda_b \ge 0`; the bias is unregularised by default. A network trained
        with weight decay on every parameter has :math:`\lambda_b = \lambda_W`: pass
        ``bias_decay=weight_decay`` to model it (this matters for BCE, whose optimal bias is
        not zero). The bias starts at zero; the softmax losses are invariant to adding a
        constant to all logits, so for them the mean of ``b`` stays zero.
    fixed_classifier : "etf", array-like of shape (n_classes, n_features) or None
        ``None`` (default) learns ``W``. ``"etf"`` fixes it to the unit-row simplex ETF
        (zero-padded to ``n_features >= n_classes`` columns, as
        :func:`~sklearn_mlabnc.simplex_etf`), the head of
        ``MLabNCClassifier(head="etf")``; an array fixes it to that matrix. Only ``H`` and
        ``b`` are then optimised (a convex problem); the term :math:`\lambda_W\|W\|^2/2` is
        a constant kept in the objective.
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
        a regularisation strength is out of range, both ``feature_decay`` and ``lambda_h``
        are given, or ``fixed_classifier`` does not fit ``(n_classes, n_features)``.

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

    A fixed unit ETF head, with an estimator's per-sample ``feature_decay``:

    >>> etf = solve_ufm(Y, fixed_classifier="etf", weight_decay=5e-3, feature_decay=0.03,
    ...                 bias_decay=5e-3, random_state=0)
    >>> bool(np.allclose(np.linalg.norm(etf.W, axis=1), 1.0)), round(etf.lambda_h, 5)
    (True, 0.00667)
    >>> print(etf.problem)  # doctest: +NORMALIZE_WHITESPACE
    full UFM, PAL, W fixed to the unit ETF (H, b free), lambda_W=0.005,
    lambda_H=0.006667 (feature_decay=0.03), lambda_b=0.005
    """
    Yf = _indicator(Y, loss)
    N, K = Yf.shape
    d = K if n_features is None else int(n_features)

    lam_h, per_sample = feature_penalty(feature_decay, lambda_h, N)
    W_fixed, fixed_name = _fixed_classifier(fixed_classifier, K, n_features)
    if W_fixed is not None:
        d = W_fixed.shape[1]

    label_sets, set_index, counts = np.unique(Yf, axis=0, return_inverse=True, return_counts=True)
    set_index = set_index.reshape(-1)
    counts = counts.astype(np.float64)
    notes = _balance_notes(Yf)
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
    T = set_targets(label_sets, loss)
    weights = counts / N
    rng = np.random.default_rng(random_state)
    scale = float(init_scale) / math.sqrt(d)
    theta = np.concatenate([rng.normal(scale=scale, size=K * d + n_sets * d), np.zeros(K)])
    free = None
    if W_fixed is not None:
        theta[: K * d] = W_fixed.ravel()
        free = np.arange(theta.size) >= K * d
    lam_w, lam_b = float(weight_decay), float(bias_decay)
    args = (T, weights, counts, K, d, loss, lam_w, lam_h, lam_b)

    # Tiny matrix products are slowed down ~10x by multi-threaded BLAS; run small problems
    # single-threaded (threadpoolctl ships with scikit-learn).
    small = theta.size * K <= 1_000_000
    with threadpool_limits(limits=1, user_api="blas") if small else contextlib.nullcontext():
        theta, n_iter, message = minimise(theta, args, tol, int(max_iter), free=free)

    objective, grad = set_objective(theta, *args)
    grad_norm = float(np.linalg.norm(grad if free is None else grad[free]))
    W, Hs, b = (part.copy() for part in unpack_parameters(theta, K, d, n_sets))
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
        lambda_h=lam_h,
        feature_decay=per_sample,
        bias_decay=lam_b,
        fixed_classifier=fixed_name,
        objective=float(objective),
        grad_norm=grad_norm,
        n_iter=n_iter,
        converged=bool(grad_norm <= tol),
        message=message,
        notes=notes,
    )


def _fixed_classifier(
    fixed: Any, K: int, n_features: int | None
) -> tuple[np.ndarray | None, str | None]:
    """The fixed ``W`` as a float64 ``(K, d)`` array and its name, or ``(None, None)``."""
    if fixed is None:
        return None, None
    if isinstance(fixed, str):  # "etf", checked by validate_params
        d = K if n_features is None else int(n_features)
        if d < K:
            raise ValueError(
                f"fixed_classifier='etf' needs n_features >= n_classes = {K}; got {d}."
            )
        W = np.zeros((K, d))
        W[:, :K] = math.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K)
        return W, "the unit ETF"
    W = np.asarray(fixed.detach().cpu() if hasattr(fixed, "detach") else fixed, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != K or not np.all(np.isfinite(W)):
        raise ValueError(
            f"fixed_classifier must be a finite (n_classes, n_features) = ({K}, d) matrix; "
            f"got shape {W.shape}."
        )
    if n_features is not None and W.shape[1] != n_features:
        raise ValueError(
            f"fixed_classifier has {W.shape[1]} columns but n_features={n_features}; "
            "leave n_features unset or make them agree."
        )
    return W, "the given W"
