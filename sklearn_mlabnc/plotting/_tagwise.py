"""The tag-wise plot: each label set's angle to the sum of its singleton means, and c_m."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..collapse import TagwiseView
from ._common import axes_list, cycle_colors, new_axes, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_tagwise"]


def plot_tagwise(
    views: Mapping[str, TagwiseView] | TagwiseView,
    *,
    predicted_c_m: Mapping[str, Mapping[int, float]] | None = None,
    log_scale: bool = True,
    axes: Any = None,
) -> Figure:
    """Draw the tag-wise average directly: angles per label set, and ``c_m`` against ``m``.

    Left: for every label set of multiplicity ``m >= 2`` (sorted by angle, one line per
    run), the angle in degrees between its mean feature and the sum of its singleton means,
    which is 0 under multi-label neural collapse; a dashed line of the same colour marks the
    run's reference angle (the mean angle to sums of arbitrary label subsets, NC_m's
    denominator), so an angle far below it is small. Right: each set's own scale (small
    dots) and the fitted :math:`\\hat c_m` (large markers) against ``m``, with ``c_1 = 1``
    by definition, and optionally the UFM optimum's ``c_m`` (crosses). Unlike a 2-D
    projection, nothing here hides part of the geometry.

    Parameters
    ----------
    views : TagwiseView or dict of str to TagwiseView
        From :func:`~sklearn_mlabnc.collapse.tagwise_view`, one per run.
    predicted_c_m : dict of str to dict of int to float, optional
        Per run, a predicted ``c_m`` per multiplicity (e.g. the UFM optimum's), drawn as
        crosses; runs without a prediction are skipped.
    log_scale : bool, default=True
        Logarithmic angle axis (angles of 0 are drawn at 1e-3 degrees).
    axes : array of two matplotlib Axes, optional
        Where to draw; by default a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; ``fig.axes`` holds the two panels.

    Raises
    ------
    ValueError
        If a view has no label set of multiplicity 2 or more.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_mlabnc.collapse import tagwise_view
    >>> from sklearn_mlabnc.plotting import plot_tagwise
    >>> E = np.eye(3)
    >>> H = np.vstack([E, 0.8 * (E[0] + E[1]), E[0] + 0.2 * E[2]])
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]])
    >>> fig = plot_tagwise({"toy": tagwise_view(H, Y)}, predicted_c_m={"toy": {2: 1.5}})
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['label sets of size m >= 2, sorted by angle', 'multiplicity m']
    >>> plt.close(fig)
    """
    pyplot()  # fail early, with an install hint, when matplotlib is missing
    if isinstance(views, TagwiseView):
        views = {"run": views}
    if not isinstance(views, Mapping) or not views:
        raise ValueError("views must be a TagwiseView or a non-empty dict name -> TagwiseView")
    for name, view in views.items():
        if not isinstance(view, TagwiseView):
            raise ValueError(f"run {name!r}: expected a TagwiseView; got {type(view).__name__}")
        if len(view.labels) == 0:
            raise ValueError(f"run {name!r} has no label set of multiplicity 2 or more")
    predicted_c_m = predicted_c_m or {}
    if axes is None:
        ax_angle, ax_scale = new_axes(2, 2, (5.2, 3.6))
    else:
        ax_angle, ax_scale = axes_list(axes, 2, "axes")
    fig = ax_angle.figure
    colors = cycle_colors()
    floor = 1e-3
    for i, (name, view) in enumerate(views.items()):
        color = colors[i % len(colors)]
        angle = np.sort(np.asarray(view.angle, dtype=float))
        shown = (
            np.where(np.isfinite(angle) & (angle <= floor), floor, angle) if log_scale else angle
        )
        ax_angle.plot(np.arange(1, len(shown) + 1), shown, ".-", color=color, label=name)
        for reference in view.reference_angle.values():
            if math.isfinite(reference):
                ax_angle.axhline(reference, color=color, linestyle="--", linewidth=1, alpha=0.7)
        multiplicity = np.asarray(view.multiplicity)
        ax_scale.plot(
            multiplicity + 0.04 * (i - (len(views) - 1) / 2),
            view.scale,
            ".",
            color=color,
            alpha=0.35,
            markersize=4,
        )
        ms = sorted(view.c_m)
        ax_scale.plot([1, *ms], [1.0, *(view.c_m[m] for m in ms)], "o-", color=color, label=name)
        predicted = predicted_c_m.get(name) or {}
        if predicted:
            pm = sorted(int(m) for m in predicted)
            ax_scale.plot(pm, [predicted[m] for m in pm], "x", color=color, markersize=10)
    from matplotlib.ticker import FormatStrFormatter, MaxNLocator

    if log_scale:
        ax_angle.set_yscale("log")
        ax_angle.yaxis.set_major_formatter(FormatStrFormatter("%g"))  # degrees, not 10^k
    ax_scale.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_angle.set_xlabel("label sets of size m >= 2, sorted by angle")
    ax_angle.set_ylabel("angle to the sum of its singleton means (degrees)")
    ax_angle.set_title(
        "Tag-wise average per label set\n(dashed: reference angle)", fontsize="medium"
    )
    ax_angle.grid(True, which="major", alpha=0.3)
    ax_angle.legend(fontsize="x-small")
    ax_scale.set_xlabel("multiplicity m")
    ax_scale.set_ylabel(r"$\hat c_m$ ($\mu_S \approx \hat c_m$ mean of singleton means)")
    title = "Fitted scale per multiplicity\n(dots: per set"
    ax_scale.set_title(title + (", x: UFM optimum)" if predicted_c_m else ")"), fontsize="medium")
    ax_scale.grid(True, alpha=0.3)
    return fig
