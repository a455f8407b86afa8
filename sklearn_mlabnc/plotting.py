"""Plots of multi-label neural collapse (MLab NC): curves, geometry, ETF heads, label sets.

matplotlib is an optional dependency (``pip install sklearn-mlabnc[plot]``); it is imported
inside the functions, so importing this module never needs it and nothing else in
:mod:`sklearn_mlabnc` imports this module.

Every function draws into the axes it is given (``ax`` / ``axes``) or creates a new figure
with :func:`matplotlib.pyplot.subplots`, and always returns the
:class:`~matplotlib.figure.Figure` it drew on (``fig.axes`` gives the panels). Figures created
here use the constrained layout; call ``fig.savefig(...)`` or ``plt.show()`` as usual.

- :func:`plot_collapse_curves`: NC metrics recorded by
  :class:`~sklearn_mlabnc.callbacks.CollapseMonitor` against the epoch, one panel per
  metric and one line per run (e.g. a learned head against a fixed ETF head).
- :func:`plot_geometry`: the singleton means, the label-set means and their tag-wise-average
  predictions ``c_m * mean_{k in S} mu_k`` (and optionally the classifier rows) in a 2-D or
  3-D PCA projection.
- :func:`plot_etf_comparison`: pairwise cosines of classifier rows against the simplex-ETF
  value ``-1/(K-1)``, one heatmap per model.
- :func:`plot_label_statistics`: samples per multiplicity and per label set, flagging
  imbalance within a multiplicity (the UFM theorem assumes balance there).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_collapse_curves",
    "plot_etf_comparison",
    "plot_geometry",
    "plot_label_statistics",
]

_INSTALL_HINT = (
    "sklearn_mlabnc.plotting requires matplotlib, which is not installed; "
    "install it with: pip install sklearn-mlabnc[plot]"
)

# metric key -> (short name, description); NC_m / c_m are matched by prefix
_METRIC_NAMES: dict[str, tuple[str, str]] = {
    "nc1": ("NC1", "within-class variability"),
    "nc2_means": ("NC2 (means)", "ETF deviation of singleton means"),
    "nc2_classifier": ("NC2 (classifier)", "ETF deviation of classifier rows"),
    "nc3": ("NC3", "self-duality of W and means"),
    "nc4": ("NC4", "nearest-prototype agreement"),
    "soft_iou": ("soft IoU", "softmax mass on the true set"),
    "bias_deviation": ("bias deviation", "non-constant part of b"),
}
# metrics that do not tend to 0, drawn on a linear axis even with log_scale=True
_LINEAR_METRICS = ("c_m_", "nc4", "soft_iou")
_DEFAULT_METRICS = ("nc1", "nc2_means", "nc2_classifier", "nc3", "nc_m_2")


def _pyplot() -> Any:
    """Import and return :mod:`matplotlib.pyplot`, or raise an ImportError with a hint."""
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    if matplotlib is None or plt is None:  # pragma: no cover - defensive
        raise ImportError(_INSTALL_HINT)
    return plt


def _metric_title(key: str) -> tuple[str, str]:
    if key in _METRIC_NAMES:
        return _METRIC_NAMES[key]
    for stem, short, desc in (
        ("nc_m_", "NC_m", "tag-wise average angle ratio"),
        ("c_m_", "c_m", "tag-wise scale"),
    ):
        if key.startswith(stem) and key[len(stem) :].isdigit():
            return f"{short} (m={key[len(stem) :]})", desc
    return key, ""


def _axes_list(axes: Any, n: int, what: str) -> list[Axes]:
    """Flatten user-given axes and check their number."""
    from matplotlib.axes import Axes

    if isinstance(axes, Axes):
        flat = [axes]
    else:
        flat = list(np.asarray(axes, dtype=object).ravel())
    if len(flat) != n or not all(isinstance(a, Axes) for a in flat):
        raise ValueError(f"{what} must be {n} matplotlib Axes; got {len(flat)} object(s)")
    return flat


def _new_axes(n: int, ncols: int, panel: tuple[float, float], **kw: Any) -> list[Axes]:
    plt = _pyplot()
    ncols = max(1, min(n, ncols))
    nrows = math.ceil(n / ncols)
    fig, axs = plt.subplots(
        nrows,
        ncols,
        figsize=(panel[0] * ncols, panel[1] * nrows),
        layout="constrained",
        squeeze=False,
        **kw,
    )
    flat = list(axs.ravel())
    for extra in flat[n:]:
        fig.delaxes(extra)
    return flat[:n]


# ------------------------------------------------------------------- collapse curves
def _is_history(obj: Any) -> bool:
    return (
        isinstance(obj, Sequence)
        and not isinstance(obj, (str, bytes))
        and (len(obj) == 0 or all(isinstance(row, Mapping) for row in obj))
    )


def _as_history(obj: Any, name: str) -> list[Mapping]:
    for attr in ("history_", "history"):
        hist = getattr(obj, attr, None)
        if hist is not None and _is_history(hist):
            return list(hist)
    if _is_history(obj):
        return list(obj)
    raise ValueError(
        f"run {name!r}: expected a history (list of dict per epoch, e.g. a fitted "
        f"estimator's history_) or an estimator with history_; got {type(obj).__name__}"
    )


def _normalize_histories(histories: Any, labels: Sequence[str] | None) -> dict[str, list]:
    if isinstance(histories, Mapping):
        if not histories:
            raise ValueError("histories is an empty dict; give at least one run")
        names = [str(k) for k in histories]
        runs = list(histories.values())
    elif _is_history(histories) or hasattr(histories, "history_"):
        names, runs = [None], [histories]
    elif isinstance(histories, Sequence) and not isinstance(histories, (str, bytes)):
        if not histories:
            raise ValueError("histories is empty; give at least one run")
        names, runs = [f"run {i}" for i in range(len(histories))], list(histories)
    else:
        raise ValueError(
            "histories must be a history (list of dict), an estimator with history_, or a "
            f"dict name -> history/estimator; got {type(histories).__name__}"
        )
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != len(runs):
            raise ValueError(f"labels has {len(labels)} entries for {len(runs)} run(s)")
        names = labels
    names = ["run" if n is None else n for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"run labels must be unique; got {names}")
    return {n: _as_history(r, n) for n, r in zip(names, runs, strict=True)}


def plot_collapse_curves(
    histories: Any,
    *,
    metrics: Sequence[str] = _DEFAULT_METRICS,
    prefix: str = "train",
    labels: Sequence[str] | None = None,
    log_scale: bool = True,
    floor: float = 1e-8,
    axes: Any = None,
) -> Figure:
    """Plot the collapse metrics recorded during training against the epoch.

    One panel per metric, one line per run. The values are those that
    :class:`~sklearn_mlabnc.callbacks.CollapseMonitor` (``collapse_every=k`` of
    :class:`~sklearn_mlabnc.MLabNCClassifier`) records every ``k`` epochs, read with
    :func:`~sklearn_mlabnc.callbacks.collapse_curves`.

    With ``log_scale=True`` the metrics that tend to 0 at collapse (NC1, NC2, NC3, NC_m,
    bias deviation) use a logarithmic y-axis, and **values at or below** ``floor`` **are
    drawn at** ``floor``: a fixed ETF head has ``nc2_classifier`` equal to 0 up to rounding
    and a collapsed NC1 can come out as ``-1e-17``, neither of which a log axis can show. A
    dotted grey line marks the floor in every panel where clipping happened. ``c_m``, NC4 and
    the soft IoU do not tend to 0 and stay on a linear axis.

    Runs whose values of a metric are all NaN draw no line in that panel; a metric with no
    finite value in any run gets no panel (with ``axes`` given, its panel is hidden).

    Parameters
    ----------
    histories : history, estimator, or dict of str to history or estimator
        A fitted estimator (anything with a ``history_`` list, or a skorch net with
        ``history``), a history itself (list of one dict per epoch), a list of those, or a
        dict mapping run names to them, e.g. ``{"learned head": clf1, "fixed ETF": clf2}``.
    metrics : sequence of str, default=("nc1", "nc2_means", "nc2_classifier", "nc3", "nc_m_2")
        Metric names without the prefix (``nc1``, ``nc2_means``, ``nc2_classifier``,
        ``nc3``, ``nc_m_<m>``, ``c_m_<m>``, ...). Default metrics that were not recorded
        (e.g. ``nc_m_2`` on multi-class data) are skipped; other unknown names raise.
    prefix : str, default="train"
        Which data set's metrics (``"train"`` or ``"valid"``).
    labels : sequence of str, optional
        Legend names of the runs (overriding the dict keys; default ``"run i"`` for a
        list and ``"run"`` for a single history).
    log_scale : bool, default=True
        Logarithmic y-axis (with clipping at ``floor``) for the metrics that tend to 0.
    floor : float, default=1e-8
        Smallest value drawn on a log axis.
    axes : matplotlib Axes or array of Axes, optional
        One Axes per entry of ``metrics``. By default a new figure is created, with up to
        three panels per row.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; ``fig.axes`` holds one panel per plotted metric.

    Raises
    ------
    ValueError
        If a run has no metrics with this prefix (fit with ``collapse_every``), a
        non-default metric was never recorded, nothing finite is left to plot, or the
        inputs have the wrong type or size.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_mlabnc.plotting import plot_collapse_curves
    >>> learned = [{"epoch": e, "train_nc1": 1.0 / e, "train_nc2_classifier": 0.5 / e}
    ...            for e in (1, 2, 3)]
    >>> etf = [{"epoch": e, "train_nc1": 2.0 / e, "train_nc2_classifier": 0.0}
    ...        for e in (1, 2, 3)]
    >>> fig = plot_collapse_curves({"learned head": learned, "fixed ETF": etf},
    ...                            metrics=("nc1", "nc2_classifier"))
    >>> [ax.get_title() for ax in fig.axes]
    ['NC1\\nwithin-class variability', 'NC2 (classifier)\\nETF deviation of classifier rows']
    >>> fig.axes[1].get_lines()[1].get_ydata().tolist()  # zeros drawn at the floor
    [1e-08, 1e-08, 1e-08]
    >>> plt.close(fig)
    """
    from .callbacks import collapse_curves

    plt = _pyplot()
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics is empty; name at least one metric")
    if not (isinstance(floor, (int, float)) and floor > 0 and math.isfinite(floor)):
        raise ValueError(f"floor must be a positive finite number; got {floor!r}")
    runs = _normalize_histories(histories, labels)
    curves: dict[str, dict[str, list]] = {}
    for name, hist in runs.items():
        c = collapse_curves(hist, prefix)
        if not c["epoch"]:
            raise ValueError(
                f"run {name!r} has no collapse metrics with prefix {prefix!r}; fit with "
                "collapse_every=k (or a CollapseMonitor callback)"
            )
        curves[name] = c
    recorded = sorted({k for c in curves.values() for k in c if k != "epoch"})
    for m in metrics:
        if m not in recorded and m not in _DEFAULT_METRICS:
            raise ValueError(f"metric {m!r} was not recorded; available: {recorded}")

    def finite(values: list) -> np.ndarray:
        return np.isfinite(np.asarray(values, dtype=float))

    has_data = [any(m in c and finite(c[m]).any() for c in curves.values()) for m in metrics]
    shown = [m for m, ok in zip(metrics, has_data, strict=True) if ok]
    if not shown:
        raise ValueError(
            f"none of the metrics {metrics} has a finite recorded value; available: {recorded}"
        )
    if axes is None:
        panel_axes = _new_axes(len(shown), 3, (4.2, 3.3))
        created = True
    else:
        given = _axes_list(axes, len(metrics), "axes")
        for ax, ok in zip(given, has_data, strict=True):
            if not ok:
                ax.set_visible(False)
        panel_axes = [ax for ax, ok in zip(given, has_data, strict=True) if ok]
        created = False
    fig = panel_axes[0].figure
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    handles: dict[str, Any] = {}
    for ax, metric in zip(panel_axes, shown, strict=True):
        use_log = log_scale and not metric.startswith(_LINEAR_METRICS)
        clipped = False
        for i, (name, c) in enumerate(curves.items()):
            if metric not in c or not finite(c[metric]).any():
                continue
            y = np.asarray(c[metric], dtype=float)
            if use_log:
                low = np.isfinite(y) & (y <= floor)
                clipped |= bool(low.any())
                y = np.where(low, floor, y)
            (line,) = ax.plot(
                c["epoch"],
                y,
                marker="o",
                markersize=3.5,
                color=colors[i % len(colors)],
                label=name,
            )
            handles.setdefault(name, line)
        if use_log:
            ax.set_yscale("log")
            if clipped:
                ax.axhline(floor, color="0.6", linestyle=":", linewidth=1)
                top = max(ax.get_ylim()[1], floor * 10)
                ax.set_ylim(floor / 30, top)  # room below the floor line for the note
                ax.annotate(
                    f"values \u2264 {floor:g} drawn at {floor:g}",
                    xy=(0.02, 0.02),
                    xycoords="axes fraction",
                    fontsize="x-small",
                    color="0.4",
                    va="bottom",
                )
        short, desc = _metric_title(metric)
        ax.set_title(f"{short}\n{desc}" if desc else short, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_ylabel(short + (" (log scale)" if use_log else ""))
        ax.grid(True, which="major", alpha=0.3)
    title = f"Collapse metrics of the {prefix} features"
    if created:
        fig.suptitle(title)
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncols=min(len(handles), 4),
            frameon=False,
        )
    else:
        panel_axes[0].legend(list(handles.values()), list(handles), fontsize="small")
    return fig


# ------------------------------------------------------------------------- geometry
def _set_name(labels: Sequence[int], names: Sequence[str]) -> str:
    return "{" + ",".join(names[k] for k in labels) + "}"


def _pca_basis(A: np.ndarray, extra: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``(dims, d)`` basis: top principal directions of ``A`` (rows, already
    centred), completed from those of ``extra`` orthogonal to them, then zero rows.
    Returns the basis and the share of ``A``'s squared norm captured by each axis."""
    d = A.shape[1]
    _, sv, Vt = np.linalg.svd(A, full_matrices=False)
    tol = max(A.shape) * np.finfo(float).eps * (sv[0] if sv.size else 0.0)
    rank = int((sv > tol).sum())
    basis = list(Vt[: min(rank, dims)])
    if len(basis) < dims and extra.size:
        R = extra - (extra @ np.array(basis).T) @ np.array(basis) if basis else extra.copy()
        _, sv2, Vt2 = np.linalg.svd(R, full_matrices=False)
        tol2 = max(R.shape) * np.finfo(float).eps * max(np.abs(extra).max(), 1.0)
        basis += list(Vt2[: int((sv2 > tol2).sum())][: dims - len(basis)])
    while len(basis) < dims:
        basis.append(np.zeros(d))
    P = np.array(basis)
    for row in P:  # deterministic signs
        j = int(np.argmax(np.abs(row)))
        if row[j] < 0:
            row *= -1
    total = float((A**2).sum())
    share = ((A @ P.T) ** 2).sum(axis=0) / total if total > 0 else np.zeros(dims)
    return P, share


def plot_geometry(
    H: Any,
    Y: Any = None,
    *,
    W: Any = None,
    dims: int = 2,
    label_names: Sequence[str] | None = None,
    max_sets: int = 30,
    annotate_sets: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Draw the MLab NC geometry of features in a 2-D or 3-D PCA projection.

    The singleton means ``mu_k`` are centred by the global mean ``mu_G`` (sample-weighted
    over the multiplicity-1 samples, the default of
    :func:`~sklearn_mlabnc.collapse.collapse_report`) and projected onto their top
    principal directions (when they span fewer than ``dims`` directions, e.g. ``K = 3`` in
    3-D, the remaining axes are the top directions of the other plotted vectors orthogonal
    to them). Drawn in that projection, with the origin at ``mu_G``:

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
        Write each drawn label set next to its mean; default when at most 12 are drawn.
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
    >>> ax.get_xlabel().startswith("PC1"), len(fig.legends)  # legend beside the axes
    (True, 1)
    >>> plt.close(fig)
    """
    from .collapse import CollapseStatistics, tagwise_average

    plt = _pyplot()
    if dims not in (2, 3) or isinstance(dims, bool):
        raise ValueError(f"dims must be 2 or 3; got {dims!r}")
    if not isinstance(max_sets, (int, np.integer)) or max_sets < 0:
        raise ValueError(f"max_sets must be a non-negative integer; got {max_sets!r}")
    if isinstance(H, CollapseStatistics):
        if Y is not None:
            raise ValueError("give Y only with features H, not with CollapseStatistics")
        stats = H
        stats._check_fitted()
    else:
        if Y is None:
            raise ValueError("Y (the 0/1 label indicator) is required with features H")
        stats = CollapseStatistics().partial_fit(H, Y)
    if stats.n_samples_ == 0:
        raise ValueError("no samples to plot")
    K, d = stats.n_labels_, stats.n_features_in_
    if label_names is None:
        names = [str(k) for k in range(K)]
    else:
        names = [str(n) for n in label_names]
        if len(names) != K:
            raise ValueError(f"label_names has {len(names)} entries; Y has K={K} labels")
    sets, mult = stats.label_sets_, stats.multiplicities_
    counts, means = stats.counts_, stats.means_
    single = np.full(K, -1)
    for j in np.flatnonzero(mult == 1):
        single[int(np.argmax(sets[j]))] = j
    missing = np.flatnonzero(single < 0)
    if missing.size:
        raise ValueError(
            f"label(s) {[names[k] for k in missing[:10]]} never occur alone; the geometry "
            "plot needs the mean of every singleton label set"
        )
    if K < 2:
        raise ValueError(f"need at least 2 labels; got K={K}")
    Wm = None
    if W is not None:
        if hasattr(W, "detach"):
            W = W.detach().cpu().numpy()
        Wm = np.asarray(W, dtype=float)
        if Wm.shape != (K, d):
            raise ValueError(f"W must have shape (K, d) = {(K, d)}; got {Wm.shape}")
        norms = np.linalg.norm(Wm, axis=1)
        if not np.all(np.isfinite(Wm)) or np.any(norms == 0):
            raise ValueError("W must be finite with non-zero rows")
        Wm = Wm / norms[:, None]
    if ax is not None and dims == 3 and getattr(ax, "name", "") != "3d":
        raise ValueError("dims=3 needs a 3-D Axes (projection='3d')")

    mu = means[single]  # (K, d) uncentred singleton means
    w1 = counts[single].astype(float)
    mu_g = (w1[:, None] * mu).sum(axis=0) / w1.sum()
    M = mu - mu_g
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c_hat = tagwise_average(stats).c_m
    multi = np.flatnonzero(mult >= 2)
    if multi.size > max_sets:  # most frequent first, ties in canonical order
        multi = np.sort(multi[np.argsort(-counts[multi], kind="stable")[:max_sets]])
    preds = np.full((multi.size, d), np.nan)
    for i, j in enumerate(multi):
        c = c_hat.get(int(mult[j]), math.nan)
        if math.isfinite(c):
            preds[i] = c * mu[sets[j]].mean(axis=0)
    set_c = means[multi] - mu_g
    pred_c = preds - mu_g
    scale = float(np.linalg.norm(M, axis=1).mean())
    w_c = None if Wm is None else Wm * scale
    extra = [set_c, pred_c[np.isfinite(pred_c).all(axis=1)]]
    if w_c is not None:
        extra.append(w_c)
    P, share = _pca_basis(M, np.vstack(extra), dims)

    def proj(X: np.ndarray) -> np.ndarray:
        return X @ P.T

    created = ax is None
    if ax is None:
        kw = {"subplot_kw": {"projection": "3d"}} if dims == 3 else {}
        ax = _new_axes(1, 1, (9.6, 5.6) if dims == 2 else (10.0, 6.6), **kw)[0]
    fig = ax.figure
    z = proj(M)
    mcolors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
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
    if w_c is not None:
        zw = proj(w_c)
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
    do_annotate = (multi.size <= 12) if annotate_sets is None else bool(annotate_sets)
    for ci, m in enumerate(sorted({int(mult[j]) for j in multi})):
        rows = np.flatnonzero(mult[multi] == m)
        color = mcolors[(ci + 1) % len(mcolors)]
        marker = shapes.get(m, "h")
        zs = proj(set_c[rows])
        points.append(zs)
        ax.scatter(
            *zs.T,
            marker=marker,
            s=50,
            color=color,
            zorder=3,
            label=f"label-set means $\\mu_S$, m={m}",
        ).set_gid(f"set_means_{m}")
        ok = np.isfinite(pred_c[rows]).all(axis=1)
        if ok.any():
            zp = proj(pred_c[rows][ok])
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
                f"$\\hat c_{m}$={c_hat[m]:.3g}",
            ).set_gid(f"predictions_{m}")
            for a, b in zip(zs[ok], zp, strict=True):
                ax.plot(*np.vstack([a, b]).T, color=color, lw=0.8, alpha=0.8)
            ax.plot(
                [], [], color=color, lw=0.8, label=f"residual $\\mu_S$ \u2212 prediction, m={m}"
            )
        if do_annotate:
            for r, zz in zip(rows, zs, strict=True):
                j = multi[r]
                ax.text(
                    *(zz + 0.04 * radius),
                    _set_name(np.flatnonzero(sets[j]), names),
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
    what = " of variance" if dims == 2 else ""
    pcs = [f"PC{i + 1} ({100 * share[i]:.0f}%{what})" for i in range(dims)]
    ax.set_xlabel(pcs[0])
    ax.set_ylabel(pcs[1])
    if dims == 3:
        ax.set_zlim(-span, span)
        ax.set_zlabel(pcs[2])
        ax.set_box_aspect((1, 1, 1))
    else:
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.6, zorder=0)
        ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    hidden = int((mult >= 2).sum()) - multi.size
    sub = f" ({hidden} rarer label sets not drawn)" if hidden else ""
    ax.set_title(f"MLab NC geometry: PCA of the centred singleton means{sub}", fontsize="medium")
    if created:  # outside the axes, so that it never covers data
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    else:
        ax.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------------- ETF heads
def _as_weight(obj: Any, name: str) -> np.ndarray:
    if hasattr(obj, "coef_"):
        obj = obj.coef_
    if hasattr(obj, "detach"):
        obj = obj.detach().cpu().numpy()
    try:
        Wm = np.asarray(obj, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"model {name!r}: expected a fitted estimator with coef_ or a (K, d) weight "
            f"matrix; got {type(obj).__name__}"
        ) from err
    if Wm.ndim != 2 or Wm.shape[0] < 2:
        raise ValueError(f"model {name!r}: W must be 2-D with K >= 2 rows; got {Wm.shape}")
    if not np.all(np.isfinite(Wm)):
        raise ValueError(f"model {name!r}: W contains NaN or infinity")
    if np.any(np.linalg.norm(Wm, axis=1) == 0):
        raise ValueError(f"model {name!r}: W has a zero row, its cosines are undefined")
    return Wm


def plot_etf_comparison(
    estimators_or_weights: Any,
    *,
    label_names: Sequence[str] | None = None,
    annotate: bool | None = None,
    ax: Any = None,
) -> Figure:
    """Heatmaps of the pairwise cosines of classifier rows against the simplex ETF.

    For each model, the ``K x K`` matrix ``cos(w_i, w_j)`` is drawn with a diverging
    colormap centred on the simplex-ETF value ``-1/(K-1)`` (white = ideal, red = rows too
    close, blue = too far apart; the diagonal is 1). The colorbar marks the ideal value and
    the title gives the model's NC2 (ETF deviation of ``W``, the report's
    ``nc2_classifier``) and the largest off-diagonal ``|cos - (-1/(K-1))|``. A fixed ETF
    head gives a uniformly white off-diagonal; a learned head approaches it as it collapses.

    Parameters
    ----------
    estimators_or_weights : estimator, array-like, or dict of str to either
        A fitted estimator with ``coef_`` (shape ``(K, d)``), a weight matrix (array or
        torch tensor), a list of those, or a dict mapping model names to them.
    label_names : sequence of str, optional
        Tick labels of the ``K`` rows (default ``0 .. K-1``; ticks are omitted for
        ``K > 20``).
    annotate : bool, optional
        Write the cosine in each cell; default when ``K <= 8``.
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes per model. By default a new figure with one panel per model is created.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; the heatmaps are the first ``n_models`` entries of ``fig.axes`` (the
        colorbars follow).

    Raises
    ------
    ValueError
        If a weight matrix is not 2-D with at least two rows, is not finite, has a zero
        row, or the number of ``ax`` does not match the number of models.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_mlabnc.plotting import plot_etf_comparison
    >>> rng = np.random.default_rng(0)
    >>> etf = np.eye(4) - 1 / 4  # rows of a simplex ETF (pairwise cosine -1/3)
    >>> fig = plot_etf_comparison({"learned": etf + 0.2 * rng.normal(size=(4, 4)),
    ...                            "fixed ETF": etf})
    >>> fig.axes[1].get_title().splitlines()[0]
    'fixed ETF'
    >>> round(float(fig.axes[1].images[0].get_array()[0, 1]), 6)  # cos(w_0, w_1)
    -0.333333
    >>> plt.close(fig)
    """
    _pyplot()
    from matplotlib.colors import Normalize, TwoSlopeNorm

    from .collapse._metrics import _etf_deviation

    if isinstance(estimators_or_weights, Mapping):
        if not estimators_or_weights:
            raise ValueError("estimators_or_weights is an empty dict")
        items = [(str(k), v) for k, v in estimators_or_weights.items()]
    elif (
        isinstance(estimators_or_weights, (list, tuple))
        and estimators_or_weights
        and all(hasattr(v, "coef_") or np.ndim(v) == 2 for v in estimators_or_weights)
    ):
        items = [(f"model {i}", v) for i, v in enumerate(estimators_or_weights)]
    else:
        items = [("classifier", estimators_or_weights)]
    weights = [(name, _as_weight(v, name)) for name, v in items]
    if ax is None:
        axs = _new_axes(len(weights), 4, (4.4, 3.9))
    else:
        axs = _axes_list(ax, len(weights), "ax")
    fig = axs[0].figure
    for a, (name, Wm) in zip(axs, weights, strict=True):
        K = Wm.shape[0]
        Wn = Wm / np.linalg.norm(Wm, axis=1, keepdims=True)
        C = np.clip(Wn @ Wn.T, -1.0, 1.0)
        ideal = -1.0 / (K - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dev = _etf_deviation(Wm @ Wm.T, "NC2 of the classifier")
        off = ~np.eye(K, dtype=bool)
        worst = float(np.abs(C[off] - ideal).max())
        # white at the ideal cosine (K = 2: the ideal -1 is the end of the scale)
        norm = TwoSlopeNorm(ideal, -1.0, 1.0) if K > 2 else Normalize(-1.0, 1.0)
        im = a.imshow(C, cmap="RdBu_r", norm=norm, interpolation="nearest")
        cb = fig.colorbar(im, ax=a, shrink=0.85)
        cb.set_label("cosine of classifier rows")
        cb.ax.axhline(ideal, color="k", lw=1.2)
        cb.set_ticks(sorted({-1.0, ideal, 0.0, 1.0}))
        cb.set_ticklabels(
            [f"ETF {t:.3g}" if t == ideal else f"{t:g}" for t in sorted({-1.0, ideal, 0.0, 1.0})]
        )
        if (K <= 8) if annotate is None else annotate:
            for i in range(K):
                for j in range(K):
                    a.text(
                        j,
                        i,
                        f"{C[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize="x-small",
                        color="w" if abs(norm(C[i, j]) - 0.5) > 0.35 else "k",
                    )
        names = [str(n) for n in label_names] if label_names is not None else None
        if names is not None and len(names) != K:
            raise ValueError(f"label_names has {len(names)} entries; model {name!r} has K={K}")
        if K <= 20:
            ticks = np.arange(K)
            a.set_xticks(ticks, names if names else [str(t) for t in ticks])
            a.set_yticks(ticks, names if names else [str(t) for t in ticks])
        ideal_txt = f"+ 1/{K - 1}"
        a.set_title(
            f"{name}\nNC2 = {dev:.3g}\nmax |cos {ideal_txt}| = {worst:.2g}", fontsize="medium"
        )
        a.set_xlabel("label j")
        a.set_ylabel("label i")
    if ax is None:
        fig.suptitle("Pairwise cosines of classifier rows vs simplex ETF (white = ideal)")
    return fig


# ------------------------------------------------------------------ label statistics
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
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from .collapse import label_statistics

    st = label_statistics(Y)
    if st["n_samples"] == 0:
        raise ValueError("Y has no rows; nothing to plot")
    K = st["n_labels"]
    if label_names is None:
        names = [str(k) for k in range(K)]
    else:
        names = [str(n) for n in label_names]
        if len(names) != K:
            raise ValueError(f"label_names has {len(names)} entries; Y has K={K} labels")
    sets, counts, mult = st["label_sets"], st["counts"], st["multiplicities"]
    ms = sorted(st["multiplicity_counts"])
    imbalanced = {m for m, (lo, hi) in st["count_range"].items() if lo != hi}
    if ax is None:
        a0, a1 = _new_axes(2, 2, (4.6, 3.8), width_ratios=[1, 2.2])
    else:
        a0, a1 = _axes_list(ax, 2, "ax")
    fig = a0.figure
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
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
        ticks = ["\u2205" if not s.any() else _set_name(np.flatnonzero(s), names) for s in sets]
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
