"""The collapse-curves plot: metrics recorded during training against the epoch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..collapse import collapse_curves
from ._common import axes_list, cycle_colors, new_axes, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_collapse_curves"]

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
    :func:`~sklearn_mlabnc.collapse.collapse_curves`.

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
    pyplot()  # fail early, with an install hint, when matplotlib is missing
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
        panel_axes = new_axes(len(shown), 3, (4.2, 3.3))
        created = True
    else:
        given = axes_list(axes, len(metrics), "axes")
        for ax, ok in zip(given, has_data, strict=True):
            if not ok:
                ax.set_visible(False)
        panel_axes = [ax for ax, ok in zip(given, has_data, strict=True) if ok]
        created = False
    fig = panel_axes[0].figure
    colors = cycle_colors()
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
