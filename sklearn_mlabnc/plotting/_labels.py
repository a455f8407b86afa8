"""The label-statistics plot: samples per multiplicity and per label set, and imbalance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..collapse import label_statistics
from ._common import axes_list, cycle_colors, label_names_of, new_axes, pyplot, set_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_label_statistics"]


def plot_label_statistics(
    Y: Any,
    *,
    label_names: Sequence[str] | None = None,
    ax: Any = None,
) -> Figure:
    """Bar charts of samples per multiplicity and per label set, flagging imbalance.

    The MLab NC theorem (and the exact tag-wise-average geometry) assumes that all label
    sets of the same multiplicity have the same number of samples. The left panel shows the
    samples per multiplicity ``m = |S|`` with the number of distinct sets and their count
    range; the right panel shows the samples per label set, coloured by multiplicity, with
    the mean count of each multiplicity as a dashed line. Multiplicities whose sets do not
    all have the same count are flagged: their bars are hatched and labelled
    ``imbalanced`` in red. Rows without any label form the empty set (``m = 0``).

    Parameters
    ----------
    Y : array-like of shape (n_samples, K), or CollapseStatistics
        0/1 label indicator (numpy, scipy sparse or torch), or fitted statistics.
    label_names : sequence of str, optional
        Names of the ``K`` labels, for the label-set tick labels (drawn for at most 40
        sets).
    ax : sequence of two matplotlib Axes, optional
        Axes for the two panels. By default a new figure is created.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; ``fig.axes[0]`` per multiplicity, ``fig.axes[1]`` per label set.

    Raises
    ------
    ValueError
        If ``Y`` is not a 2-D 0/1 indicator with at least one row, ``label_names`` has the
        wrong length, or ``ax`` is not two Axes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_mlabnc.plotting import plot_label_statistics
    >>> Y = [[1, 0, 0]] * 4 + [[0, 1, 0]] * 4 + [[0, 0, 1]] * 4 + [[1, 1, 0]] * 2 + [[0, 1, 1]]
    >>> fig = plot_label_statistics(Y)
    >>> [int(p.get_height()) for p in fig.axes[0].patches]
    [12, 3]
    >>> fig.axes[1].get_title()
    'Samples per label set (1 multiplicity imbalanced)'
    >>> plt.close(fig)
    """
    pyplot()  # fail early, with an install hint, when matplotlib is missing
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    st = label_statistics(Y)
    if st["n_samples"] == 0:
        raise ValueError("Y has no rows; nothing to plot")
    K = st["n_labels"]
    names = label_names_of(label_names, K)
    sets, counts, mult = st["label_sets"], st["counts"], st["multiplicities"]
    ms = sorted(st["multiplicity_counts"])
    imbalanced = {m for m, (lo, hi) in st["count_range"].items() if lo != hi}
    if ax is None:
        a0, a1 = new_axes(2, 2, (4.6, 3.8), width_ratios=[1, 2.2])
    else:
        a0, a1 = axes_list(ax, 2, "ax")
    fig = a0.figure
    colors = cycle_colors()
    color_of = {m: colors[i % len(colors)] for i, m in enumerate(ms)}
    # per multiplicity
    xs = np.arange(len(ms))
    heights = [int(st["multiplicity_counts"][m]) for m in ms]
    bars = a0.bar(xs, heights, color=[color_of[m] for m in ms], edgecolor="k", linewidth=0.6)
    for bar, m in zip(bars, ms, strict=True):
        if m in imbalanced:
            bar.set_hatch("//")
        lo, hi = st["count_range"][m]
        n_sets = st["sets_per_multiplicity"][m]
        rng = f"{lo}" if lo == hi else f"{lo}\u2013{hi}"
        txt = f"{n_sets} set{'s' if n_sets != 1 else ''}\n{rng} each"
        if m in imbalanced:
            txt += "\nimbalanced"
        a0.annotate(
            txt,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="x-small",
            color="tab:red" if m in imbalanced else "k",
        )
    a0.set_xticks(xs, [f"m={m}" if m else "m=0 (empty)" for m in ms])
    a0.set_xlabel("multiplicity |S|")
    a0.set_ylabel("samples")
    a0.set_title("Samples per multiplicity", fontsize="medium")
    a0.set_ylim(0, max(heights) * 1.35)
    # per label set
    xs1 = np.arange(len(counts))
    a1.bar(
        xs1,
        counts,
        color=[color_of[int(m)] for m in mult],
        width=0.8,
        hatch=[("//" if int(m) in imbalanced else None) for m in mult],
        edgecolor="k",
        linewidth=0.3,
    )
    handles = []
    for m in ms:
        idx = np.flatnonzero(mult == m)
        lbl = f"m={m}" + (" (imbalanced)" if m in imbalanced else "")
        handles.append(
            Patch(
                facecolor=color_of[m],
                hatch="//" if m in imbalanced else None,
                edgecolor="k",
                linewidth=0.3,
                label=lbl,
            )
        )
        a1.hlines(
            counts[idx].mean(),
            idx[0] - 0.45,
            idx[-1] + 0.45,
            colors="k",
            linestyles="--",
            linewidth=0.9,
        )
    handles.append(Line2D([], [], color="k", linestyle="--", linewidth=0.9, label="mean count"))
    if len(counts) <= 40:
        ticks = ["\u2205" if not s.any() else set_name(np.flatnonzero(s), names) for s in sets]
        a1.set_xticks(xs1, ticks, rotation=60 if len(counts) > 8 else 0, fontsize="small")
    a1.set_xlabel("label set S (sorted by multiplicity)")
    a1.set_ylabel("samples")
    a1.set_ylim(0, counts.max() * 1.45)
    for a in (a0, a1):
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
    n_imb = len(imbalanced)
    flag = (
        f" ({n_imb} multiplicit{'ies' if n_imb > 1 else 'y'} imbalanced)"
        if n_imb
        else " (balanced within each multiplicity)"
    )
    a1.set_title(f"Samples per label set{flag}", fontsize="medium")
    a1.legend(handles=handles, loc="upper right", fontsize="small", ncols=min(len(handles), 4))
    return fig
