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
    """``NeuralNet`` with the per-batch work of its training loop cut to what a GPU needs.

    - skorch records ``loss.item()`` per batch, a host<->device synchronisation that stalls a
      GPU between batches. Here the batch losses are summed on the device and read once per
      epoch; the history receives one batch record per epoch holding the sample-weighted
      mean, so skorch's epoch-level scoring callbacks see the same ``train_loss`` and
      ``valid_loss``. A non-finite epoch loss stops training with an actionable error.
    - The modules are put in training (or evaluation) mode once per epoch instead of once
      per batch, and batch-level events go only to the callbacks that define a handler for
      them: on small networks and on GPUs, where a step takes about a millisecond, skorch's
      per-batch Python bookkeeping would otherwise cost a fifth of the step. Per-batch
      history records are kept only where a callback wrote to them, plus one per epoch
      holding the loss.
    """

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        self._set_training(training)
        batch_begin = self._listeners("on_batch_begin")
        batch_end = self._listeners("on_batch_end")
        # skorch's own train_step where a callback reads gradients or there are several
        # optimizers; the lean one otherwise.
        self._lean_step = not self._listeners("on_grad_computed") and len(self._optimizers) == 1
        total, n_seen, batch_count = None, 0, 0
        for batch in iterator:
            if batch_begin or batch_end:  # a record per batch for callbacks that write one
                self.history.new_batch()
            for handler in batch_begin:
                handler(self, batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            weighted = step["loss"].detach() * size
            total = weighted if total is None else total + weighted
            n_seen += size
            for handler in batch_end:
                handler(self, batch=batch, training=training, **step)
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
            batches = self.history[-1]["batches"]
            batches[:] = [record for record in batches if record]  # drop unused records
            self.history.new_batch()
            self.history.record_batch(prefix + "_loss", mean_loss)
            self.history.record_batch(prefix + "_batch_size", n_seen)
        self.history.record(prefix + "_batch_count", batch_count)

    def train_step(self, batch, **fit_params):
        if not getattr(self, "_lean_step", False):
            return super().train_step(batch, **fit_params)
        step = {}

        def closure():  # optimizers such as LBFGS call it more than once
            self.optimizer_.zero_grad(set_to_none=True)
            step.update(self.train_step_single(batch, **fit_params))
            return step["loss"]

        self.optimizer_.step(closure)
        return step

    def train_step_single(self, batch, **fit_params):
        # The mode was set for the whole epoch and batches are already on the device, so
        # skip skorch's per-batch ``_set_training`` and ``to_tensor`` conversions.
        Xi, yi = batch
        y_pred = self.module_(Xi, **fit_params)
        loss = self.criterion_(y_pred, yi)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def _listeners(self, event):
        """The handlers of ``event`` that do something.

        skorch's own handlers are left out: they are no-ops except ``on_batch_begin``, which
        opens a history record per batch; ``run_single_epoch`` opens those itself, only
        when some callback handles batch events.
        """
        noop = getattr(Callback, event)
        handlers = [getattr(self, event)] if _overrides(self, event, NeuralNet) else []
        for _, callback in self.callbacks_:
            if _overrides(callback, event, Callback, noop):
                handlers.append(getattr(callback, event))
        return handlers


def _overrides(obj, event, base, noop=None):
    method = getattr(obj, event, None)
    if method is None:
        return False
    noop = noop if noop is not None else getattr(base, event)
    return getattr(method, "__func__", method) is not noop


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
