"""Public metric functions: each takes collapse statistics or features with labels.

Every metric is computed from a :class:`CollapseStatistics` (per-label-set counts and
feature sums, plus two scatter matrices), so a one-shot, a batch-by-batch and a merged
computation give the same value. Each function accepts either a fitted
``CollapseStatistics`` (and then ``Y`` must be omitted) or the features ``H`` with the
indicator ``Y``; the computations themselves live in :mod:`._geometry`,
:mod:`._outputs` and :mod:`._report`.

Reference: Li, Li, Wang, Qu, *Neural Collapse in Multi-label Learning with Pick-all-label
Loss*, ICML 2024 (arXiv:2310.15903).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

from sklearn.utils._param_validation import Interval, validate_params

from ._docstrings import REPORT_OPTIONS_DOC, Substitution
from ._geometry import (
    NC2Result,
    TagwiseResult,
    nc1_from_summary,
    nc2_from_summary,
    nc3_from_summary,
    tagwise_from_summary,
)
from ._outputs import linear_logits, nc4_from_summary, soft_iou
from ._report import OPTION_CONSTRAINTS, CollapseReport, ReportOptions, report_from_summary
from ._statistics import CollapseStatistics

__all__ = [
    "collapse_report",
    "nc1",
    "nc2",
    "nc3",
    "nc4",
    "tagwise_average",
]

_DATA = ["array-like", "sparse matrix"]
# The report conventions' defaults (those of ReportOptions), to tell which were given.
_REPORT_DEFAULTS = {k: getattr(ReportOptions(), k) for k in OPTION_CONSTRAINTS}


def _get_stats(stats_or_H: Any, Y: Any, fname: str) -> CollapseStatistics:
    if isinstance(stats_or_H, CollapseStatistics):
        if Y is not None:
            raise ValueError(f"{fname}: pass either a CollapseStatistics or (H, Y), not both")
        return stats_or_H
    if Y is None:
        raise ValueError(f"{fname}: Y is required when features H are given")
    return CollapseStatistics().partial_fit(stats_or_H, Y)


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, *_DATA],
        "Y": [None, *_DATA],
        "classes": OPTION_CONSTRAINTS["classes"],
        "inverse": OPTION_CONSTRAINTS["inverse"],
        "global_mean": OPTION_CONSTRAINTS["global_mean"],
    },
    prefer_skip_nested_validation=True,
)
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
    return nc1_from_summary(stats.summary(), classes, inverse, global_mean)


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, *_DATA],
        "Y": [None, *_DATA],
        "W": [None, "array-like"],
        "centered": OPTION_CONSTRAINTS["centered"],
        "global_mean": OPTION_CONSTRAINTS["global_mean"],
    },
    prefer_skip_nested_validation=True,
)
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
    return nc2_from_summary(stats.summary(), W, centered, global_mean)


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, *_DATA],
        "Y": [None, *_DATA],
        "W": [None, "array-like"],
        "global_mean": OPTION_CONSTRAINTS["global_mean"],
    },
    prefer_skip_nested_validation=True,
)
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
    if W is None:
        raise ValueError("nc3 requires the classifier weights W")
    return nc3_from_summary(stats.summary(), W, global_mean)


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, *_DATA],
        "Y": [None, *_DATA],
        "centered": ["boolean"],
        "global_mean": OPTION_CONSTRAINTS["global_mean"],
        "max_subsets": OPTION_CONSTRAINTS["max_subsets"],
        "random_state": OPTION_CONSTRAINTS["random_state"],
    },
    prefer_skip_nested_validation=True,
)
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
    return tagwise_from_summary(stats.summary(), centered, global_mean, max_subsets, random_state)


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, *_DATA],
        "Y": [None, *_DATA],
        "predictions": [None, *_DATA],
        "H": [None, *_DATA],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
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
    return nc4_from_summary(stats.summary(), H, predictions, batch_size)


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, *_DATA],
        "Y": [None, *_DATA],
        "W": [None, "array-like"],
        "b": [None, "array-like"],
        "logits": [None, "array-like"],
        "predictions": [None, *_DATA],
        **OPTION_CONSTRAINTS,
        "options": [None, ReportOptions],
    },
    prefer_skip_nested_validation=True,
)
@Substitution(report_options=REPORT_OPTIONS_DOC)
def collapse_report(
    stats_or_H: Any,
    Y: Any = None,
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
    bias_metric: str = "logit_scale",
    options: ReportOptions | None = None,
) -> CollapseReport:
    """All MLab NC metrics of statistics, or of features ``H`` with labels ``Y``, in one report.

    Computes NC1 (:func:`nc1`), NC2 of the means and of ``W`` (:func:`nc2`), NC3
    (:func:`nc3`), the tag-wise average NC_m / ``c_m`` / residuals
    (:func:`tagwise_average`), NC4 (:func:`nc4`, when ``predictions`` are given), the
    soft IoU (:func:`soft_iou`, from ``logits`` or from ``H W^T + b`` when ``W`` is given)
    and ``bias_deviation`` (see ``bias_metric``). The notes flag degenerate inputs,
    rows with no label, single-sample classes, and imbalance *within* a multiplicity (the
    UFM theorem needs equal counts per multiplicity). NC4 and the soft IoU need
    per-sample data: with a :class:`CollapseStatistics` they are NaN.

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like, scipy sparse or torch.Tensor of \
shape (n, d)
        Fitted statistics, or features (then ``Y`` is required).
    Y : array-like, scipy sparse or torch.Tensor of shape (n, K), optional
        0/1 label indicator when features are given.
    W : array-like of shape (K, d), optional
        Classifier weights.
    b : array-like of shape (K,), optional
        Classifier bias.
    logits : array-like of shape (n, K), optional
        Logits for the soft IoU (default: ``H W^T + b`` if ``W`` is given).
    predictions : array-like of shape (n, K), optional
        Predicted label sets for NC4.
    {report_options}
    options : ReportOptions, default=None
        All the conventions at once (as a :class:`ReportOptions`); conventions also
        passed as keywords, other than their defaults, override it.

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
    stats = _get_stats(stats_or_H, Y, "collapse_report")
    given = dict(
        classes=classes,
        inverse=inverse,
        global_mean=global_mean,
        centered=centered,
        tagwise_centered=tagwise_centered,
        max_subsets=max_subsets,
        random_state=random_state,
        bias_metric=bias_metric,
    )
    if options is not None:  # conventions passed as keywords override ``options``
        given = {k: v for k, v in given.items() if v != _REPORT_DEFAULTS[k]}
    options = ReportOptions.from_kwargs(options, **given)
    summary = stats.summary()
    rep = report_from_summary(summary, W=W, b=b, options=options)
    if stats_or_H is stats:
        if logits is not None or predictions is not None:
            raise ValueError(
                "collapse_report: logits and predictions need per-sample labels and "
                "features; pass (H, Y) instead of a CollapseStatistics"
            )
        return rep
    H = stats_or_H
    iou = math.nan
    if logits is None and W is not None:
        logits = linear_logits(H, W, b)
    if logits is not None:
        iou = soft_iou(logits, Y)
    agree = math.nan
    if predictions is not None:
        agree = nc4_from_summary(summary, H, predictions, 8192)
    return replace(rep, soft_iou=iou, nc4=agree)
