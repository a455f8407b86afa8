"""Shared matplotlib plumbing of the plots: lazy import, axes creation and checks.

matplotlib is imported inside the functions only, so that importing the plotting package
never needs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "INSTALL_HINT",
    "axes_list",
    "cycle_colors",
    "label_names_of",
    "new_axes",
    "pyplot",
    "set_name",
]

INSTALL_HINT = (
    "sklearn_mlabnc.plotting requires matplotlib, which is not installed; "
    "install it with: pip install sklearn-mlabnc[plot]"
)


def pyplot() -> Any:
    """Import and return :mod:`matplotlib.pyplot`, or raise an ImportError with a hint."""
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    if matplotlib is None or plt is None:  # pragma: no cover - defensive
        raise ImportError(INSTALL_HINT)
    return plt


def axes_list(axes: Any, n: int, what: str) -> list[Axes]:
    """Flatten user-given axes and check their number."""
    from matplotlib.axes import Axes

    if isinstance(axes, Axes):
        flat = [axes]
    else:
        flat = list(np.asarray(axes, dtype=object).ravel())
    if len(flat) != n or not all(isinstance(a, Axes) for a in flat):
        raise ValueError(f"{what} must be {n} matplotlib Axes; got {len(flat)} object(s)")
    return flat


def new_axes(n: int, ncols: int, panel: tuple[float, float], **kw: Any) -> list[Axes]:
    plt = pyplot()
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


def set_name(labels: Sequence[int], names: Sequence[str]) -> str:
    """``{a,b}``: the names of a label set's labels."""
    return "{" + ",".join(names[k] for k in labels) + "}"


def label_names_of(label_names: Sequence[str] | None, K: int) -> list[str]:
    """The ``K`` label names as strings (``'0' .. 'K-1'`` when None), length-checked."""
    if label_names is None:
        return [str(k) for k in range(K)]
    names = [str(n) for n in label_names]
    if len(names) != K:
        raise ValueError(f"label_names has {len(names)} entries; Y has K={K} labels")
    return names


def cycle_colors() -> list[str]:
    """The colours of matplotlib's current property cycle."""
    return pyplot().rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
