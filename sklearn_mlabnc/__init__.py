"""sklearn_mlabnc: multi-label learning through the lens of neural collapse (MLab NC).

Scikit-learn estimators that train PyTorch networks (through skorch) with the pick-all-label
loss, optionally on a fixed simplex-ETF head, and tools that measure the multi-label
neural-collapse geometry (Li, Li, Wang and Qu, *Neural Collapse in Multi-label Learning with
Pick-all-label Loss*, ICML 2024).
"""

from ._classifier import MLabNCClassifier
from ._features import CollapseFeatures
from ._heads import SimplexETFHead, simplex_etf
from ._loading import load_model
from ._losses import OneVsAllLoss, PickAllLabelLoss
from ._network import MLabNCNetwork
from ._precision import native_bfloat16
from .callbacks import CollapseMonitor
from .collapse import (
    CollapseReport,
    CollapseStatistics,
    NeuralCollapseAnalyzer,
    collapse_report,
)
from .scorers import (
    COLLAPSE_SCORERS,
    make_collapse_scorer,
    nc1_scorer,
    nc2_scorer,
    nc3_scorer,
    nc4_scorer,
    soft_iou_scorer,
    tagwise_scorer,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "COLLAPSE_SCORERS",
    "CollapseFeatures",
    "CollapseMonitor",
    "CollapseReport",
    "CollapseStatistics",
    "MLabNCClassifier",
    "MLabNCNetwork",
    "OneVsAllLoss",
    "PickAllLabelLoss",
    "NeuralCollapseAnalyzer",
    "SimplexETFHead",
    "collapse_report",
    "load_model",
    "make_collapse_scorer",
    "nc1_scorer",
    "nc2_scorer",
    "nc3_scorer",
    "nc4_scorer",
    "native_bfloat16",
    "simplex_etf",
    "soft_iou_scorer",
    "tagwise_scorer",
]
