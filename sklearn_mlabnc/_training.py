"""skorch plumbing owned by :class:`MLabNCClassifier`: the loss wrapper, the net, callbacks.

Nothing here is public. The estimator composes a :class:`FastNeuralNet` in ``fit``.
"""

from __future__ import annotations

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn


class PenalizedLoss(nn.Module):
    """Base loss on the logits plus ``feature_decay * ||H_batch||_F^2`` on the features.

    The feature penalty is summed over the batch, not averaged, as in the paper's training.
    """

    def __init__(self, base: nn.Module, feature_decay: float = 0.0) -> None:
        super().__init__()
        self.base = base
        self.feature_decay = feature_decay

    def forward(self, outputs: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor):
        logits, features = outputs
        loss = self.base(logits, target)
        if self.feature_decay:
            loss = loss + self.feature_decay * features.pow(2).sum()
        return loss


class FastNeuralNet(NeuralNet):
    """``NeuralNet`` whose epochs do not synchronise with the device after every batch.

    skorch records ``loss.item()`` per batch, a host<->device synchronisation that stalls a
    GPU between batches. Here the batch losses are summed on the device and read once per
    epoch; the history receives one batch record per epoch holding the sample-weighted mean,
    so skorch's epoch-level scoring callbacks see the same ``train_loss``/``valid_loss``.
    A non-finite epoch loss stops training with an actionable error.
    """

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        total, n_seen, batch_count = None, 0, 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            weighted = step["loss"].detach() * size
            total = weighted if total is None else total + weighted
            n_seen += size
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        if batch_count:
            mean_loss = total.item() / n_seen
            if not math.isfinite(mean_loss):
                epoch = len(self.history)
                raise FloatingPointError(
                    f"The {prefix} loss became {mean_loss} in epoch {epoch}: training "
                    "diverged. Lower the learning rate (lr), standardise X if it has large "
                    "values (e.g. with StandardScaler), use precision='float32', or enable "
                    "early_stopping to keep the best parameters."
                )
            self.history.record_batch(prefix + "_loss", mean_loss)
            self.history.record_batch(prefix + "_batch_size", n_seen)
        self.history.record(prefix + "_batch_count", batch_count)


class FixedSplit:
    """A ``train_split`` that hands skorch a validation set prepared by the estimator."""

    def __init__(self, valid_dataset) -> None:
        self.valid_dataset = valid_dataset

    def __call__(self, dataset, y=None, **kwargs):
        return dataset, self.valid_dataset


class EpochProgressBar(Callback):
    """One tqdm bar over the epochs of a fit, showing the latest losses."""

    def __init__(self, total: int) -> None:
        self.total = total

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=self.total, desc="epochs", unit="epoch", leave=False)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.bar_.set_postfix(
            {k: f"{row[k]:.4g}" for k in ("train_loss", "valid_loss") if k in row}, refresh=False
        )
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("bar_", None)
        return state
