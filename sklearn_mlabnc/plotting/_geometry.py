"""The geometry plot: singleton means, label-set means and their tag-wise predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..collapse import CollapseStatistics
from ..collapse._projection import geometry_projection
from ._common import cycle_colors, label_names_of, new_axes, pyplot, set_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_geometry"]


def plot_geometry(
    H: Any,
    Y: Any = None,
    *,
    W: Any = None,
    dims: int = 2,
    label_names: Sequence[str] | None = None,
    max_sets: int = 30,
    annotate_sets: bool | None = None,
    basis: str = "polygon",
    ax: Axes | None = None,
) -> Figure:
    """Draw the MLab NC geometry of features in a 2-D or 3-D view of the singleton means.

    The singleton means ``mu_k`` are centred by the global mean ``mu_G`` (sample-weighted
    over the multiplicity-1 samples, the default of
    :func:`~sklearn_mlabnc.collapse.collapse_report`) and projected onto axes in their span.
    By default (``basis="polygon"``) the first two axes are the plane in which a simplex
    ETF is a regular polygon with the labels in order: at collapse the singleton means
    sit on a circle at equal angles, where the principal axes of an ETF (all of equal
    variance) would be an arbitrary pair. ``basis="pca"`` uses their top principal
    directions instead. A third axis is the top principal direction of the rest. The axis
    labels give the share of the singleton means' spread each axis keeps, and the title
    the share of the label-set means' spread the view keeps. Drawn, with the origin at
    ``mu_G``:

    - the singleton means as filled points with arrows from ``mu_G``, labelled by name (at
      collapse they form a simplex ETF: equal lengths and equal pairwise angles);
    - the label-set means ``mu_S`` of multiplicity ``m >= 2`` as filled markers (one shape
      and colour per multiplicity; at most ``max_sets``, the most frequent ones);
    - their tag-wise-average predictions ``c_m * mean_{k in S} mu_k`` as hollow markers,
      joined to the actual ``mu_S`` by thin lines (the residual), with ``c_m`` the
      least-squares scale of :func:`~sklearn_mlabnc.collapse.tagwise_average` (uncentred,
      as in the report); at collapse each hollow marker covers its filled one;
    - optionally the classifier rows ``w_k`` as dashed arrows, normalised to unit length and
      scaled to the mean length of the centred singleton means (at collapse, NC3, they
      point along the singleton means).

    Parameters
    ----------
    H : array-like of shape (n_samples, d) or CollapseStatistics
        Features (e.g. ``clf.transform(X)``), or fitted
        :class:`~sklearn_mlabnc.collapse.CollapseStatistics` (then ``Y`` is omitted).
    Y : array-like of shape (n_samples, K)
        0/1 label indicator. Every label must occur alone at least once.
    W : array-like of shape (K, d), optional
        Classifier weights (e.g. ``clf.coef_``), drawn as dashed arrows.
    dims : {2, 3}, default=2
        Dimension of the projection.
    label_names : sequence of str, optional
        Names of the ``K`` labels (default ``"0"`` ... ``"K-1"``).
    max_sets : int, default=30
        Most label sets of multiplicity >= 2 drawn (the most frequent ones).
    annotate_sets : bool, optional
        Write each drawn label set next to its mean; default in 2-D when at most 12 are
        drawn.
    basis : {"polygon", "pca"}, default="polygon"
        How the axes are chosen, see above.
    ax : matplotlib Axes, optional
        Axes to draw into (a 3-D Axes for ``dims=3``). By default a new figure is created.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; the projection is in ``fig.axes[0]``.

    Raises
    ------
    ValueError
        If ``dims`` is not 2 or 3, a label is never observed alone, shapes disagree,
        ``label_names`` has the wrong length, or ``ax`` is not 3-D for ``dims=3``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_mlabnc.plotting import plot_geometry
    >>> U = np.eye(3) - 1 / 3  # centred simplex directions
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> Y = np.repeat(Y, 5, axis=0)
    >>> rng = np.random.default_rng(0)
    >>> H = Y @ U * np.where(Y.sum(1) == 1, 1.0, 0.7)[:, None] + 0.02 * rng.normal(size=(30, 3))
    >>> fig = plot_geometry(H, Y, W=U, label_names=["cat", "dog", "car"])
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel().startswith("axis 1: "), len(fig.legends)  # legend beside the axes
    (True, 1)
    >>> plt.close(fig)
    """
    pyplot()  # fail early, with an install hint, when matplotlib is missing
    if dims not in (2, 3) or isinstance(dims, bool):
        raise ValueError(f"dims must be 2 or 3; got {dims!r}")
    if not isinstance(max_sets, (int, np.integer)) or max_sets < 0:
        raise ValueError(f"max_sets must be a non-negative integer; got {max_sets!r}")
    if isinstance(H, CollapseStatistics):
        if Y is not None:
            raise ValueError("give Y only with features H, not with CollapseStatistics")
        summary = H.summary()
    else:
        if Y is None:
            raise ValueError("Y (the 0/1 label indicator) is required with features H")
        summary = CollapseStatistics().partial_fit(H, Y).summary()
    K = summary.n_labels
    names = label_names_of(label_names, K)
    geo = geometry_projection(summary, W, dims=dims, max_sets=int(max_sets), basis=basis)
    if ax is not None and dims == 3 and getattr(ax, "name", "") != "3d":
        raise ValueError("dims=3 needs a 3-D Axes (projection='3d')")

    created = ax is None
    if ax is None:
        kw = {"subplot_kw": {"projection": "3d"}} if dims == 3 else {}
        ax = new_axes(1, 1, (9.6, 5.6) if dims == 2 else (10.0, 6.6), **kw)[0]
    fig = ax.figure
    z = geo.singletons
    mcolors = cycle_colors()
    points = [np.zeros((1, dims)), z]
    # singleton means
    for k in range(K):
        seg = np.vstack([np.zeros(dims), z[k]]).T
        if dims == 2:
            ax.annotate(
                "",
                xy=z[k],
                xytext=(0, 0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "k",
                    "lw": 1.4,
                    "shrinkA": 0,
                    "shrinkB": 3,
                },
            )
        else:
            ax.plot(*seg, color="k", lw=1.4)
    sc = ax.scatter(*z.T, s=45, color="k", zorder=4, label="singleton means $\\mu_k$")
    sc.set_gid("singleton_means")
    radius = float(np.linalg.norm(z, axis=1).max()) or 1.0
    for k in range(K):
        nz = float(np.linalg.norm(z[k]))
        ax.text(
            *(z[k] + (0.1 * radius / nz * z[k] if nz > 0 else 0.0)),
            names[k],
            fontsize="medium",
            fontweight="bold",
            ha="center",
            va="center",
        )
    ax.scatter(
        *np.zeros((dims, 1)), marker="+", s=80, color="0.3", label="global mean $\\mu_G$ (origin)"
    )
    # classifier rows
    if geo.classifier is not None:
        zw = geo.classifier
        points.append(zw)
        for k in range(K):
            ax.plot(
                *np.vstack([np.zeros(dims), zw[k]]).T,
                color="tab:red",
                lw=1.2,
                linestyle="--",
                label="classifier rows $w_k$ (normalised)" if k == 0 else None,
            )
    # label-set means, predictions and residuals
    shapes = {2: "s", 3: "^", 4: "D", 5: "p"}
    mult = geo.set_multiplicities
    # In 3-D the set names would cross the singleton labels and each other: the legend
    # says what the markers are.
    default_annotate = mult.size <= 12 and dims == 2
    do_annotate = default_annotate if annotate_sets is None else bool(annotate_sets)
    placed: list[np.ndarray] = []  # where set names went, so that none covers another
    for ci, m in enumerate(sorted({int(x) for x in mult})):
        rows = np.flatnonzero(mult == m)
        color = mcolors[(ci + 1) % len(mcolors)]
        marker = shapes.get(m, "h")
        zs = geo.set_means[rows]
        points.append(zs)
        ax.scatter(
            *zs.T,
            marker=marker,
            s=50,
            color=color,
            zorder=3,
            label=f"label-set means $\\mu_S$, m={m}",
        ).set_gid(f"set_means_{m}")
        ok = np.isfinite(geo.predictions[rows]).all(axis=1)
        if ok.any():
            zp = geo.predictions[rows][ok]
            points.append(zp)
            ax.scatter(
                *zp.T,
                marker=marker,
                s=120,
                facecolors="none",
                edgecolors=color,
                linewidths=1.4,
                zorder=3,
                label=f"tag-wise prediction $\\hat c_{m}\\,$mean$_{{k\\in S}}\\mu_k$, "
                f"$\\hat c_{m}$={geo.c_m[m]:.3g}",
            ).set_gid(f"predictions_{m}")
            for a, b in zip(zs[ok], zp, strict=True):
                ax.plot(*np.vstack([a, b]).T, color=color, lw=0.8, alpha=0.8)
            ax.plot(
                [], [], color=color, lw=0.8, label=f"residual $\\mu_S$ \u2212 prediction, m={m}"
            )
        if do_annotate:
            for r, zz in zip(rows, zs, strict=True):
                at = zz + 0.04 * radius
                # a name is about 0.3 radii wide and 0.08 high at the default sizes
                while any(
                    abs(at[0] - p[0]) < 0.3 * radius and abs(at[1] - p[1]) < 0.08 * radius
                    for p in placed
                ):
                    at = at - 0.09 * radius * np.eye(dims)[1]  # one line lower
                placed.append(at)
                ax.text(
                    *at,
                    set_name(np.flatnonzero(geo.set_labels[r]), names),
                    fontsize="x-small",
                    color=color,
                    ha="left",
                    va="bottom",
                )
    # limits (annotations do not autoscale), equal aspect
    allp = np.vstack(points)
    span = float(np.abs(allp).max()) if allp.size else 1.0
    span = 1.18 * (span if span > 0 else 1.0)
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    what = " of the singleton means" if dims == 2 else ""
    axis = "PC" if geo.basis == "pca" else "axis "
    labels = [f"{axis}{i + 1}: {100 * geo.explained[i]:.0f}%{what}" for i in range(dims)]
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if dims == 3:
        ax.set_zlim(-span, span)
        ax.set_zlabel(labels[2])
        ax.set_box_aspect((1, 1, 1), zoom=0.9)  # room for the axis labels
        for side in (ax.xaxis, ax.yaxis, ax.zaxis):
            side.labelpad = 2
    else:
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.6, zorder=0)
        ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    hidden = geo.n_hidden
    view = "polygon view" if geo.basis == "polygon" else "principal axes"
    kept = f"keeps {100 * geo.explained.sum():.0f}% of their spread"
    if np.isfinite(geo.explained_sets):
        kept += f", {100 * geo.explained_sets:.0f}% of the label-set means'"
    if hidden:
        kept += f"\n{hidden} rarer label sets not drawn"
    ax.set_title(
        f"MLab NC geometry: {view} of the centred singleton means\n({kept})",
        fontsize="medium",
    )
    if created:  # outside the axes, so that it never covers data
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    else:
        ax.legend(fontsize="small")
    return fig
