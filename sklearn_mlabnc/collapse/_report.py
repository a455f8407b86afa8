"""Collapse reports: the report container, its one options type, and report assembly.

:class:`ReportOptions` holds the metric conventions (validated once);
:func:`report_from_summary` computes every summary-based metric into a
:class:`CollapseReport` with them. :func:`collapse_curves` reshapes the reports recorded
in a training history into one list per metric.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from ._bias import BIAS_METRICS, bias_deviation_from_summary
from ._docstrings import REPORT_OPTIONS_DOC, Substitution
from ._geometry import (
    LabelSetResidual,
    as_host_matrix,
    nc1_from_summary,
    nc2_from_summary,
    nc3_from_summary,
    tagwise_from_summary,
)
from ._summary import CollapseSummary

__all__ = [
    "OPTION_CONSTRAINTS",
    "CollapseReport",
    "ReportOptions",
    "collapse_curves",
    "report_from_summary",
]

#: Constraints of the report conventions, shared by every function that takes them.
OPTION_CONSTRAINTS: dict[str, list[Any]] = {
    "classes": [StrOptions({"singletons", "label_sets"})],
    "inverse": [StrOptions({"pinv", "svd"})],
    "global_mean": [StrOptions({"weighted", "class_means", "paper"})],
    "centered": ["boolean"],
    "tagwise_centered": ["boolean"],
    "max_subsets": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": [Interval(numbers.Integral, 0, None, closed="left")],
    "bias_metric": [StrOptions(set(BIAS_METRICS))],
}


@Substitution(report_options=REPORT_OPTIONS_DOC)
@dataclass(frozen=True)
class ReportOptions:
    """The metric conventions of a collapse report (immutable, validated on creation).

    Every way of producing a :class:`CollapseReport` takes these conventions, either as
    keyword arguments or as a ``ReportOptions``.

    Parameters
    ----------
    {report_options}

    Examples
    --------
    >>> from sklearn_mlabnc.collapse import ReportOptions
    >>> ReportOptions(classes="label_sets").as_dict()["classes"]
    'label_sets'
    >>> ReportOptions.from_kwargs(clases="x")
    Traceback (most recent call last):
    ...
    TypeError: unknown report option(s) ['clases']; valid: ['bias_metric', 'centered', ...]
    """

    classes: str = "singletons"
    inverse: str = "pinv"
    global_mean: str = "weighted"
    centered: bool = True
    tagwise_centered: bool = False
    max_subsets: int = 2000
    random_state: int = 0
    bias_metric: str = "logit_scale"

    def __post_init__(self) -> None:
        validate_parameter_constraints(
            OPTION_CONSTRAINTS, asdict(self), caller_name=type(self).__name__
        )

    @classmethod
    def from_kwargs(cls, options: ReportOptions | None = None, **kwargs: Any) -> ReportOptions:
        """Options from keyword arguments (over ``options``), naming unknown keys.

        Parameters
        ----------
        options : ReportOptions, default=None
            Base options (defaults when None).
        **kwargs
            Conventions overriding ``options``.

        Returns
        -------
        options : ReportOptions
            The validated options.

        Examples
        --------
        >>> from sklearn_mlabnc.collapse import ReportOptions
        >>> ReportOptions.from_kwargs(inverse="svd").inverse
        'svd'
        """
        base = asdict(options) if options is not None else {}
        unknown = set(kwargs) - set(OPTION_CONSTRAINTS)
        if unknown:
            raise TypeError(
                f"unknown report option(s) {sorted(unknown)}; valid: {sorted(OPTION_CONSTRAINTS)}"
            )
        return cls(**{**base, **kwargs})

    def as_dict(self) -> dict[str, Any]:
        """The conventions as a plain dictionary (as stored in ``CollapseReport.options``).

        Examples
        --------
        >>> from sklearn_mlabnc.collapse import ReportOptions
        >>> sorted(ReportOptions().as_dict())[:2]
        ['bias_metric', 'centered']
        """
        out = asdict(self)
        out["centered"] = bool(out["centered"])
        out["tagwise_centered"] = bool(out["tagwise_centered"])
        out["max_subsets"] = int(out["max_subsets"])
        out["random_state"] = int(out["random_state"])
        return out


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
        How far the bias is from constant, under ``options["bias_metric"]``: by default
        (``"logit_scale"``) the RMS of ``b - mean(b)`` over the RMS of the mean-removed
        logits ``W mu_k`` of the singleton means, meaningful under PAL, whose softmax
        ignores ``mean(b)``; with ``"ratio"``, ``||b - mean(b)|| / ||b||``, meaningful when
        the mean of ``b`` matters (BCE). 0 for a constant bias; NaN without ``b``.
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
        """Alias of ``notes``."""
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
            of ``LabelSetResidual``.

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
            line = f"  {k:<15} {fmt(float(getattr(self, k)))}"
            if k == "bias_deviation" and "bias_metric" in self.options:
                line += f"   ({self.options['bias_metric']})"
            lines.append(line)
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


def report_from_summary(
    s: CollapseSummary, W: Any = None, b: Any = None, options: ReportOptions | None = None
) -> CollapseReport:
    """Every summary-based metric of a :class:`CollapseSummary` in one report.

    NC4 and the soft IoU need per-sample data and are NaN here. Warnings of the metrics
    are re-emitted once each and listed in the report's ``notes``.

    Parameters
    ----------
    s : CollapseSummary
        The statistics (see :meth:`CollapseStatistics.summary`).
    W : array-like or torch.Tensor of shape (K, d), default=None
        Classifier weights (NC2 of the classifier, NC3).
    b : array-like or torch.Tensor of shape (K,), default=None
        Classifier bias (``bias_deviation``).
    options : ReportOptions, default=None
        The conventions (defaults when None).

    Returns
    -------
    report : CollapseReport
        The metrics.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import CollapseStatistics
    >>> from sklearn_mlabnc.collapse._report import report_from_summary
    >>> Y = np.eye(2, dtype=int).repeat(2, axis=0)
    >>> H = np.array([[0.0], [0.2], [1.0], [1.2]])
    >>> report_from_summary(CollapseStatistics().partial_fit(H, Y).summary()).nc1
    0.02
    """
    opts = ReportOptions() if options is None else options
    bias = math.nan
    if W is not None:
        W = as_host_matrix(W, (s.n_labels, s.n_features), "W")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if b is not None:
            bv = as_host_matrix(b, (s.n_labels,), "b")
            bias = bias_deviation_from_summary(s, W, bv, opts.bias_metric)
        v1 = nc1_from_summary(s, opts.classes, opts.inverse, opts.global_mean)
        v2 = nc2_from_summary(s, W, bool(opts.centered), opts.global_mean)
        v3 = math.nan if W is None else nc3_from_summary(s, W, opts.global_mean)
        tw = tagwise_from_summary(
            s,
            bool(opts.tagwise_centered),
            opts.global_mean,
            int(opts.max_subsets),
            int(opts.random_state),
        )
    notes: list[str] = []
    for w in caught:
        msg = str(w.message)
        if msg not in notes:
            notes.append(msg)
            warnings.warn(msg, w.category, stacklevel=3)
    notes.extend(_data_notes(s))
    return CollapseReport(
        nc1=v1,
        nc2_means=v2.means,
        nc2_classifier=v2.classifier,
        nc3=v3,
        nc_m=tw.nc_m,
        c_m=tw.c_m,
        bias_deviation=bias,
        n_samples=int(s.n_samples),
        n_label_sets=len(s.counts),
        n_labels=int(s.n_labels),
        n_features=int(s.n_features),
        n_skipped=tw.n_skipped,
        residuals=tw.residuals,
        options=opts.as_dict(),
        notes=tuple(notes),
    )


def _data_notes(s: CollapseSummary) -> list[str]:
    notes = []
    mult, counts = s.multiplicities, s.counts
    n_empty = int(counts[mult == 0].sum())
    if n_empty:
        notes.append(
            f"{n_empty} sample(s) have no positive label; they form the empty label set "
            "(multiplicity 0) and are excluded from singleton-based metrics"
        )
    for m in sorted(int(x) for x in np.unique(mult) if x >= 1):
        c = counts[mult == m]
        if c.min() != c.max():
            notes.append(
                f"label sets of multiplicity {m} are imbalanced (counts {c.min()}..{c.max()}): "
                "tag-wise geometry not guaranteed"
            )
    n_one = int(np.sum((counts == 1) & (mult >= 1)))
    if n_one:
        notes.append(
            f"{n_one} label set(s) have a single sample and contribute no within-class variability"
        )
    return notes


def collapse_curves(history: Sequence[dict], prefix: str = "train") -> dict[str, list]:
    """Epochs and metric values recorded during training, as lists per metric.

    Reads the reports that :class:`~sklearn_mlabnc.callbacks.CollapseMonitor` (the
    ``collapse_every`` option of :class:`~sklearn_mlabnc.MLabNCClassifier`) writes into
    the training history.

    Parameters
    ----------
    history : sequence of dict
        A fitted estimator's ``history_`` (or a skorch ``History``).
    prefix : {"train", "valid"}, default="train"
        Which data set's curves.

    Returns
    -------
    dict of str to list
        ``"epoch"`` plus one list per recorded metric (without the prefix).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse import collapse_curves
    >>> history = [{"epoch": 1, "train_nc1": 2.0}, {"epoch": 2}, {"epoch": 3, "train_nc1": 0.5}]
    >>> collapse_curves(history)
    {'epoch': [1, 3], 'nc1': [2.0, 0.5]}
    """
    start = f"{prefix}_"
    rows = [row for row in history if f"{start}nc1" in row]
    curves: dict[str, list] = {"epoch": [row["epoch"] for row in rows]}
    for row in rows:
        for key, value in row.items():
            if key.startswith(start) and key != f"{start}loss" and not key.endswith("_best"):
                curves.setdefault(key[len(start) :], []).append(value)
    return {key: values for key, values in curves.items() if len(values) == len(rows)}
