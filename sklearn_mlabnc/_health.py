"""Health guards of every fit: features that died, and a loss no better than a constant.

Two failures used to pass silently, leaving a fitted model that predicts one constant label
set: a penalty or a learning rate that drives the penultimate features to exactly zero,
and a run whose loss ends no lower than that of a predictor giving every output the same
score. :class:`FeatureHealth` watches the first during training, accumulating the feature
statistics on the device next to the loss, so the training loop still synchronises with the
host once per epoch; :func:`check_final_loss` checks the second after training. Both warn
with a :class:`~sklearn.exceptions.ConvergenceWarning` that names the cause and the fix.
"""

from __future__ import annotations

import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

__all__ = ["DEAD_FEATURE_RATIO", "FeatureHealth", "LOSS_TOLERANCE", "check_final_loss"]

#: An epoch whose mean squared feature norm is at most this share of its value at
#: initialisation counts as dead features (as does an exactly zero largest feature).
DEAD_FEATURE_RATIO = 1e-6
#: A final loss at least ``(1 - LOSS_TOLERANCE)`` times the constant predictor's is a failure.
LOSS_TOLERANCE = 1e-3


class FeatureHealth:
    """Feature statistics of the training epochs, on the device, and the dead-feature check.

    The reference is the mean squared feature norm of the first training batch, computed
    with the parameters at initialisation. Each epoch sums the squared norms and keeps the
    largest absolute feature value as device tensors; :meth:`epoch_values` reads them with
    the epoch's loss in one transfer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc._health import FeatureHealth
    >>> health = FeatureHealth()
    >>> health.add(torch.ones(4, 3))
    >>> health.add(torch.zeros(4, 3))
    >>> loss, sq_norm, largest = health.epoch_values(torch.tensor(8.0))
    >>> loss, sq_norm / 8, largest, health.dead(sq_norm / 8, largest)
    (8.0, 1.5, 1.0, False)
    """

    def __init__(self) -> None:
        self.reference: torch.Tensor | None = None
        self.reference_value: float | None = None
        self.warned = False
        self._sq: torch.Tensor | None = None
        self._max: torch.Tensor | None = None

    def add(self, features: torch.Tensor) -> None:
        """Accumulate one training batch's features (no host synchronisation)."""
        h = features.detach().float()
        sq, largest = h.pow(2).sum(), h.abs().max()
        if self.reference is None:
            self.reference = sq / max(h.shape[0], 1)
        self._sq = sq if self._sq is None else self._sq + sq
        self._max = largest if self._max is None else torch.maximum(self._max, largest)

    def epoch_values(self, loss_total: torch.Tensor) -> tuple[float, float, float]:
        """``(loss_total, sum of ||h||^2, max |h|)`` of the epoch, read in one transfer.

        Resets the epoch's accumulators; the last two are NaN when no features were added.
        """
        if self._sq is None:
            return float(loss_total.item()), float("nan"), float("nan")
        stacked = torch.stack([loss_total.float(), self._sq, self._max, self.reference.float()])
        loss, sq, largest, reference = stacked.tolist()
        self.reference_value = reference
        self._sq = self._max = None
        return loss, sq, largest

    def dead(self, mean_sq_norm: float, largest: float) -> bool:
        """Whether an epoch's features count as dead (relative to the reference)."""
        if largest != largest:  # NaN: nothing was measured
            return False
        reference = self.reference_value or 0.0
        return largest == 0.0 or mean_sq_norm <= DEAD_FEATURE_RATIO * reference

    def check(self, mean_sq_norm: float, largest: float, epoch: int, net) -> None:
        """Warn once (per training call) when the epoch's features are dead."""
        if self.warned or not self.dead(mean_sq_norm, largest):
            return
        self.warned = True
        decay = getattr(net.criterion_, "feature_decay", 0.0)
        warnings.warn(
            f"The penultimate features died in epoch {epoch}: their mean squared norm is "
            f"{mean_sq_norm:.3g} (largest |h| {largest:.3g}) against "
            f"{self.reference_value:.3g} at initialisation, so every sample gets the same "
            "scores and the model predicts one constant label set. Cause: the feature "
            f"penalty (feature_decay={decay:g}), weight decay "
            f"(weight_decay={_weight_decay(net):g}) or learning rate (lr={net.lr:g}) is too "
            "strong for this network; ReLU features pushed to zero never recover. Fix: lower "
            "feature_decay (a per-sample penalty; the paper reproduction uses 0.03) and "
            "weight_decay, or the learning rate.",
            ConvergenceWarning,
            stacklevel=2,
        )


def constant_loss(net, targets: torch.Tensor) -> float:
    """The base loss of a predictor giving every output the same score, on ``targets``.

    Zero logits are such a predictor: PAL gives ``mean|S| log K``, PAL-N ``log K`` and the
    one-vs-all BCE ``K log 2`` for ``K`` outputs.
    """
    base = getattr(net.criterion_, "base", net.criterion_)
    with torch.no_grad():
        zeros = torch.zeros(targets.shape, dtype=torch.float32, device=targets.device)
        return float(base(zeros, targets))


def check_final_loss(net, targets: torch.Tensor | None) -> None:
    """Warn when the final training loss is no better than the constant predictor's.

    Examples
    --------
    >>> import warnings
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from sklearn_mlabnc import PickAllLabelLoss
    >>> from sklearn_mlabnc._health import check_final_loss
    >>> net = SimpleNamespace(history=[{"train_loss": 1.2}], criterion_=PickAllLabelLoss(),
    ...                       lr=1e6, optimizer_=None)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_final_loss(net, torch.eye(3))  # log 3 = 1.0986 < 1.2
    >>> "lr=1e+06" in str(caught[0].message)
    True
    """
    if targets is None or not net.history or "train_loss" not in net.history[-1]:
        return
    final = float(net.history[-1]["train_loss"])
    constant = constant_loss(net, targets)
    if not final >= (1.0 - LOSS_TOLERANCE) * constant:
        return
    warnings.warn(
        f"Training ended with a loss of {final:.4g}, no better than {constant:.4g}, the loss "
        "of a constant predictor that gives every output the same score: the network "
        f"learned nothing. The learning rate lr={net.lr:g} is the usual cause: too large "
        "makes the optimizer overshoot or kill the features, too small (or too few epochs) "
        "leaves the network where it started. Try a 10x smaller lr (or more epochs), or the "
        "defaults (Adam, lr=1e-3).",
        ConvergenceWarning,
        stacklevel=3,
    )


def _weight_decay(net) -> float:
    optimizer = getattr(net, "optimizer_", None)
    groups = getattr(optimizer, "param_groups", None) or [{}]
    return float(groups[0].get("weight_decay", 0.0))
