"""Multi-label losses: pick-all-label cross-entropy (PAL, PAL-N) and one-vs-all BCE.

Plain torch modules: no scikit-learn, no skorch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["OneVsAllLoss", "PickAllLabelLoss"]


class PickAllLabelLoss(nn.Module):
    r"""Pick-all-label cross-entropy (PAL) for multi-label targets.

    For logits :math:`z` and label set :math:`S` (a row of the 0/1 indicator ``target``)
    the loss of one sample is :math:`\sum_{k \in S} -\log \mathrm{softmax}(z)_k`; it is not
    divided by :math:`|S|`. With ``normalize=True`` the targets are divided by :math:`|S|`
    (PAL-N, the variant the paper's MNIST/CIFAR code trains). On multi-class data (every
    :math:`|S| = 1`) both equal ordinary softmax cross-entropy.

    Parameters
    ----------
    normalize : bool, default=False
        Divide each sample's targets by its multiplicity :math:`|S|` (PAL-N).
    reduction : {"mean", "sum", "none"}, default="mean"
        How per-sample losses are combined.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc import PickAllLabelLoss
    >>> logits = torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, -1.0]])
    >>> target = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    >>> PickAllLabelLoss(reduction="none")(logits, target)
    tensor([0.2395, 1.5172])
    """

    def __init__(self, normalize: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}.")
        self.normalize = normalize
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.to(logits.dtype)
        if self.normalize:
            target = target / target.sum(dim=1, keepdim=True).clamp_min(1.0)
        per_sample = -(target * F.log_softmax(logits, dim=1)).sum(dim=1)
        return _reduce(per_sample, self.reduction)


class OneVsAllLoss(nn.Module):
    """One-vs-all binary cross-entropy: one sigmoid per label (the usual baseline).

    The per-sample loss is the sum over labels of the binary cross-entropy, so its scale is
    comparable to :class:`PickAllLabelLoss` (scikit-learn's ``MLPClassifier`` averages over
    labels instead, which only rescales the learning rate).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How per-sample losses are combined.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc import OneVsAllLoss
    >>> OneVsAllLoss()(torch.zeros(2, 3), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    tensor(2.0794)
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}.")
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_label = F.binary_cross_entropy_with_logits(
            logits, target.to(logits.dtype), reduction="none"
        )
        return _reduce(per_label.sum(dim=1), self.reduction)


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample
