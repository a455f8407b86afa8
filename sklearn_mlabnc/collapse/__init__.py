"""Multi-label neural-collapse measurement on anybody's features.

Streaming, mergeable sufficient statistics (:class:`CollapseStatistics`) and the MLab NC
metrics computed from them: NC1 (:func:`nc1`), NC2 (:func:`nc2`), NC3 (:func:`nc3`), the
tag-wise average NC_m (:func:`tagwise_average`; per label set: :func:`tagwise_view`), NC4
(:func:`nc4`), the soft IoU (:func:`soft_iou`), label statistics
(:func:`label_statistics`), all of them at once (:func:`collapse_report` ->
:class:`CollapseReport`, conventions in :class:`ReportOptions`), the per-sample
collapse coordinates of :class:`NeuralCollapseAnalyzer`, and the curves recorded during
training (:func:`collapse_curves`).

This subpackage imports nothing else from :mod:`sklearn_mlabnc`. Inside it, the flow is
one way: labels (``_labels``) -> frozen summary (``_summary``) -> metric computations on
a summary (``_geometry``, ``_outputs``, the plotting coordinates of ``_projection``) ->
report assembly (``_report``) -> the per-batch accumulation kernels (``_accumulate``) ->
the accumulating statistics (``_statistics``) -> the public functions taking statistics
or features (``_metrics``) -> the per-label-set tag-wise view (``_tagwise``) -> the
analyzer (``_analyzer``). Shared docstring fragments (``_docstrings``) import nothing.
"""

from ._analyzer import NeuralCollapseAnalyzer
from ._labels import label_statistics
from ._metrics import collapse_report, nc1, nc2, nc3, nc4, tagwise_average
from ._outputs import soft_iou
from ._recorder import FeatureRecorder
from ._report import CollapseReport, ReportOptions, collapse_curves
from ._statistics import CollapseStatistics
from ._summary import CollapseSummary
from ._tagwise import TagwiseView, tagwise_view

__all__ = [
    "CollapseReport",
    "CollapseStatistics",
    "CollapseSummary",
    "FeatureRecorder",
    "NeuralCollapseAnalyzer",
    "ReportOptions",
    "TagwiseView",
    "collapse_curves",
    "collapse_report",
    "label_statistics",
    "nc1",
    "nc2",
    "nc3",
    "nc4",
    "soft_iou",
    "tagwise_average",
    "tagwise_view",
]
