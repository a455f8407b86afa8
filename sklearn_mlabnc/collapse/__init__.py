"""Multi-label neural-collapse measurement on anybody's features.

Streaming, mergeable sufficient statistics (:class:`CollapseStatistics`) and the MLab NC
metrics computed from them: NC1 (:func:`nc1`), NC2 (:func:`nc2`), NC3 (:func:`nc3`), the
tag-wise average NC_m (:func:`tagwise_average`), NC4 (:func:`nc4`), the soft IoU
(:func:`soft_iou`), label statistics (:func:`label_statistics`), and all of them at once
(:func:`collapse_report` -> :class:`CollapseReport`).

This subpackage imports nothing else from :mod:`sklearn_mlabnc`.
"""

from ._metrics import (
    collapse_report,
    label_statistics,
    nc1,
    nc2,
    nc3,
    nc4,
    soft_iou,
    tagwise_average,
)
from ._report import CollapseReport
from ._statistics import CollapseStatistics

__all__ = [
    "CollapseReport",
    "CollapseStatistics",
    "collapse_report",
    "label_statistics",
    "nc1",
    "nc2",
    "nc3",
    "nc4",
    "soft_iou",
    "tagwise_average",
]
