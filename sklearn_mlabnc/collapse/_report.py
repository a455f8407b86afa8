"""The :class:`CollapseReport` container returned by the collapse metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["CollapseReport", "LabelSetResidual"]


class LabelSetResidual(NamedTuple):
    """Tag-wise-average residual of one label set of multiplicity >= 2.

    Attributes
    ----------
    labels : tuple of int
        The label indices of the set ``S``.
    multiplicity : int
        ``|S|``.
    count : int
        Number of samples with exactly this label set.
    angle : float
        Angle in degrees between ``mu_S`` and ``sum_{k in S} mu_k`` (0 at collapse).
    scale : float
        Per-set least-squares scale ``<mu_S, a_S> / ||a_S||^2`` with
        ``a_S = mean_{k in S} mu_k``.
    scale_residual : float
        ``scale / c_m - 1`` (0 when the set follows the multiplicity's fitted scale).
    relative_residual : float
        ``||mu_S - c_m a_S|| / ||c_m a_S||``.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._report import LabelSetResidual
    >>> r = LabelSetResidual((0, 1), 2, 10, 0.0, 0.7, 0.0, 0.0)
    >>> r.labels, r.multiplicity
    ((0, 1), 2)
    """

    labels: tuple[int, ...]
    multiplicity: int
    count: int
    angle: float
    scale: float
    scale_residual: float
    relative_residual: float


def _clean(x: Any) -> Any:
    """Python scalar for JSON (numpy scalars -> float/int/bool)."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return int(x)
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


@dataclass(frozen=True)
class CollapseReport:
    """Multi-label neural-collapse metrics of one set of features (immutable).

    All metrics are ``NaN`` when they could not be computed (missing ``W``, no
    predictions, or a degenerate input; the reason is then listed in ``notes``).

    Attributes
    ----------
    nc1 : float
        Within-class variability ``tr(Sigma_W Sigma_B^+) / C``.
    nc2_means : float
        ETF deviation of the singleton means.
    nc2_classifier : float
        ETF deviation of the classifier rows ``W`` (NaN without ``W``).
    nc3 : float
        Self-duality ETF deviation of ``W Mbar^T`` (NaN without ``W``).
    nc_m : dict of int to float
        Tag-wise-average angle ratio per multiplicity ``m >= 2``.
    c_m : dict of int to float
        Least-squares tag-wise scale per multiplicity ``m >= 2``.
    nc4 : float
        Nearest-label-set-mean agreement with the classifier's predictions.
    soft_iou : float
        Mean softmax mass on the true label set.
    bias_deviation : float
        ``||b - mean(b)|| / ||b||`` (0 for a constant bias; NaN without ``b``).
    n_samples, n_label_sets, n_labels, n_features : int
        Sizes (``n_label_sets`` counts the empty set when it occurs).
    n_skipped : dict of int to int
        Per multiplicity, label sets skipped by NC_m because one of their labels was never
        observed alone.
    residuals : tuple of LabelSetResidual
        Per-label-set tag-wise residuals (multiplicity >= 2).
    options : dict
        The conventions used.
    notes : tuple of str
        Human-readable warnings (degenerate inputs, imbalance within a multiplicity, ...).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse import CollapseReport
    >>> rep = CollapseReport(nc1=0.5, nc_m={2: 0.1}, c_m={2: 0.7}, n_samples=10)
    >>> d = rep.to_dict()
    >>> d["nc1"], d["nc_m_2"], d["c_m_2"], d["nc3"]
    (0.5, 0.1, 0.7, nan)
    """

    nc1: float = math.nan
    nc2_means: float = math.nan
    nc2_classifier: float = math.nan
    nc3: float = math.nan
    nc_m: dict[int, float] = field(default_factory=dict)
    c_m: dict[int, float] = field(default_factory=dict)
    nc4: float = math.nan
    soft_iou: float = math.nan
    bias_deviation: float = math.nan
    n_samples: int = 0
    n_label_sets: int = 0
    n_labels: int = 0
    n_features: int = 0
    n_skipped: dict[int, int] = field(default_factory=dict)
    residuals: tuple[LabelSetResidual, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    _SCALARS = (
        "nc1",
        "nc2_means",
        "nc2_classifier",
        "nc3",
        "nc4",
        "soft_iou",
        "bias_deviation",
    )

    @property
    def warnings(self) -> tuple[str, ...]:
        """Alias of :attr:`notes`."""
        return self.notes

    def to_dict(self) -> dict[str, Any]:
        """Flat, JSON-friendly dictionary of the scalar results.

        Keys: ``nc1``, ``nc2_means``, ``nc2_classifier``, ``nc3``, ``nc4``, ``soft_iou``,
        ``bias_deviation``, then ``nc_m_<m>``, ``c_m_<m>`` and ``n_skipped_m_<m>`` for
        each multiplicity ``m >= 2`` present, then ``n_samples``, ``n_label_sets``,
        ``n_labels``, ``n_features`` and ``option_<name>`` for each convention. Values are
        plain Python ``float`` (NaN when not computed), ``int``, ``bool`` or ``str``; the
        residual table and the notes are not included.

        Returns
        -------
        d : dict
            The flat dictionary.

        Examples
        --------
        >>> from sklearn_mlabnc.collapse import CollapseReport
        >>> sorted(CollapseReport(nc_m={2: 0.0}).to_dict())[:4]
        ['bias_deviation', 'c_m_2', 'n_features', 'n_label_sets']
        """
        out: dict[str, Any] = {k: float(getattr(self, k)) for k in self._SCALARS}
        for m in sorted(set(self.nc_m) | set(self.c_m)):
            out[f"nc_m_{m}"] = float(self.nc_m.get(m, math.nan))
            out[f"c_m_{m}"] = float(self.c_m.get(m, math.nan))
            out[f"n_skipped_m_{m}"] = int(self.n_skipped.get(m, 0))
        for k in ("n_samples", "n_label_sets", "n_labels", "n_features"):
            out[k] = int(getattr(self, k))
        for k, v in self.options.items():
            out[f"option_{k}"] = _clean(v)
        return out

    def to_frame(self, which: str = "metrics") -> Any:
        """The report as a pandas DataFrame (pandas is imported lazily).

        Parameters
        ----------
        which : {'metrics', 'residuals'}, default='metrics'
            ``'metrics'``: one row per numeric key of :meth:`to_dict`, column ``value``.
            ``'residuals'``: one row per label set of multiplicity >= 2, with the columns
            of :class:`LabelSetResidual`.

        Returns
        -------
        frame : pandas.DataFrame
            The table.

        Examples
        --------
        >>> from sklearn_mlabnc.collapse import CollapseReport
        >>> float(CollapseReport(nc1=0.25).to_frame().loc["nc1", "value"])
        0.25
        """
        import pandas as pd

        if which == "metrics":
            d = {
                k: v
                for k, v in self.to_dict().items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            return pd.DataFrame({"value": pd.Series(d, dtype=float)})
        if which == "residuals":
            return pd.DataFrame(list(self.residuals), columns=list(LabelSetResidual._fields))
        raise ValueError(f"which must be 'metrics' or 'residuals'; got {which!r}")

    def __repr__(self) -> str:
        def fmt(x: float) -> str:
            return "nan" if math.isnan(x) else f"{x:.6g}"

        lines = [
            f"CollapseReport(n_samples={self.n_samples}, n_label_sets={self.n_label_sets}, "
            f"n_labels={self.n_labels}, n_features={self.n_features})"
        ]
        for k in self._SCALARS:
            lines.append(f"  {k:<15} {fmt(float(getattr(self, k)))}")
        for m in sorted(self.nc_m):
            c = fmt(self.c_m.get(m, math.nan))
            lines.append(f"  nc_m[{m}]{'':<9} {fmt(self.nc_m[m])}   c_m[{m}] {c}")
        if self.options:
            opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
            lines.append(f"  options: {opts}")
        if self.notes:
            lines.append("  notes:")
            lines.extend(f"    - {n}" for n in self.notes)
        return "\n".join(lines)
