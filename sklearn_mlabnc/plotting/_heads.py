"""The ETF-comparison plot: pairwise cosines of classifier rows against the simplex ETF."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..collapse._geometry import etf_deviation, row_cosines
from ._common import axes_list, new_axes, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_etf_comparison"]


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
    pyplot()
    from matplotlib.colors import Normalize, TwoSlopeNorm

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
        axs = new_axes(len(weights), 4, (4.4, 3.9))
    else:
        axs = axes_list(ax, len(weights), "ax")
    fig = axs[0].figure
    for a, (name, Wm) in zip(axs, weights, strict=True):
        K = Wm.shape[0]
        C = row_cosines(Wm)
        ideal = -1.0 / (K - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dev = etf_deviation(Wm @ Wm.T, "NC2 of the classifier")
        off = ~np.eye(K, dtype=bool)
        worst = float(np.abs(C[off] - ideal).max())
        # white at the ideal cosine (K = 2: the ideal -1 is the end of the scale)
        norm = TwoSlopeNorm(ideal, -1.0, 1.0) if K > 2 else Normalize(-1.0, 1.0)
        im = a.imshow(C, cmap="RdBu_r", norm=norm, interpolation="nearest")
        cb = fig.colorbar(im, ax=a, shrink=0.85)
        cb.set_label("cosine of classifier rows")
        cb.ax.axhline(ideal, color="k", lw=1.2)
        # The ETF value -1/(K-1) is near 0 for many labels: a 0 tick would collide with it.
        ticks = sorted({-1.0, ideal, 1.0} | ({0.0} if abs(ideal) >= 0.2 else set()))
        cb.set_ticks(ticks)
        cb.set_ticklabels(
            [f"ETF \u22121/{K - 1}" if t == ideal and K > 2 else f"{t:g}" for t in ticks]
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
