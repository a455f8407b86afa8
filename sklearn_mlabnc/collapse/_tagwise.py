"""The tag-wise view: per label set, how far its mean is from the sum of its singleton means.

The tag-wise average property of multi-label neural collapse says that the mean feature of
a label set :math:`S` is a scaled sum of the means of its labels alone,
:math:`\\mu_S = c_m \\frac1m \\sum_{k\\in S}\\mu_k`. :func:`tagwise_view` gives the numbers
that show it directly, without a projection: the angle of every label set's mean to the sum
of its singleton means (0 at collapse), the reference angle to the sums of arbitrary subsets
of the same size (what NC_m divides by), and the fitted scale :math:`\\hat c_m` per label set
and per multiplicity.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._metrics import tagwise_average
from ._report import OPTION_CONSTRAINTS
from ._statistics import CollapseStatistics

__all__ = ["TagwiseView", "tagwise_view"]


class TagwiseView(NamedTuple):
    """Per-label-set tag-wise numbers, for multiplicities ``m >= 2``.

    Attributes
    ----------
    labels : tuple of tuple of int
        The label sets, in the order of the arrays.
    multiplicity : ndarray of shape (n_sets,)
        ``|S|`` of each set.
    count : ndarray of shape (n_sets,)
        Samples with exactly this label set.
    angle : ndarray of shape (n_sets,)
        Angle in degrees between the set's mean and the sum of its singleton means.
    scale : ndarray of shape (n_sets,)
        The set's own least-squares scale ``<mu_S, a_S> / ||a_S||^2``,
        ``a_S = mean_{k in S} mu_k``.
    c_m : dict of int to float
        The scale fitted over all sets of each multiplicity.
    nc_m : dict of int to float
        NC_m: the mean angle over the mean reference angle.
    reference_angle : dict of int to float
        Mean angle, in degrees, of the set means to the sums of arbitrary size-``m`` label
        subsets (NC_m's denominator): the scale against which ``angle`` is small or not.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse import TagwiseView
    >>> TagwiseView.__name__
    'TagwiseView'
    """

    labels: tuple[tuple[int, ...], ...]
    multiplicity: np.ndarray
    count: np.ndarray
    angle: np.ndarray
    scale: np.ndarray
    c_m: dict[int, float]
    nc_m: dict[int, float]
    reference_angle: dict[int, float]


@validate_params(
    {
        "stats_or_H": [CollapseStatistics, "array-like", "sparse matrix"],
        "Y": [None, "array-like", "sparse matrix"],
        "centered": ["boolean"],
        "global_mean": OPTION_CONSTRAINTS["global_mean"],
    },
    prefer_skip_nested_validation=True,
)
def tagwise_view(
    stats_or_H: Any,
    Y: Any = None,
    *,
    centered: bool = False,
    global_mean: str = "weighted",
) -> TagwiseView:
    """Angle of every label set's mean to the sum of its singleton means, and ``c_m``.

    The per-set numbers behind :func:`tagwise_average` (same conventions: uncentred means
    by default, as in the paper), arranged for a plot of angle per label set and of the
    fitted :math:`\\hat c_m` against :math:`m`.

    Parameters
    ----------
    stats_or_H : CollapseStatistics or array-like of shape (n, d)
        Fitted statistics, or features (then ``Y`` is required).
    Y : array-like of shape (n, K), optional
        0/1 indicator when features are given.
    centered : bool, default=False
        Subtract the global mean from all means first.
    global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
        Global mean for ``centered=True``.

    Returns
    -------
    view : TagwiseView
        Per-set arrays and per-multiplicity ``c_m``, NC_m and reference angle.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import tagwise_view
    >>> E = np.eye(3)
    >>> H = np.vstack([E, 0.8 * (E[0] + E[1]), E[0] + 0.2 * E[2]])  # {0,1}: exact; {0,2}: not
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]])
    >>> view = tagwise_view(H, Y)
    >>> view.labels, np.round(view.angle, 2).tolist(), np.round(view.scale, 2).tolist()
    (((0, 1), (0, 2)), [0.0, 33.69], [1.6, 1.2])
    >>> round(view.c_m[2], 2), round(view.reference_angle[2], 2)
    (1.4, 46.97)
    """
    result = tagwise_average(stats_or_H, Y, centered=centered, global_mean=global_mean)
    rows = result.residuals
    angle = np.array([r.angle for r in rows], dtype=float)
    multiplicity = np.array([r.multiplicity for r in rows], dtype=int)
    reference = {}
    for m, ratio in result.nc_m.items():
        here = angle[(multiplicity == m) & np.isfinite(angle)]
        # NC_m = mean angle / mean reference angle; undefined when both are 0.
        defined = here.size and ratio and math.isfinite(ratio)
        reference[m] = float(here.mean()) / ratio if defined else math.nan
    return TagwiseView(
        labels=tuple(r.labels for r in rows),
        multiplicity=multiplicity,
        count=np.array([r.count for r in rows], dtype=int),
        angle=angle,
        scale=np.array([r.scale for r in rows], dtype=float),
        c_m=dict(result.c_m),
        nc_m=dict(result.nc_m),
        reference_angle=reference,
    )
