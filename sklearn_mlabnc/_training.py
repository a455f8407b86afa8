"""Training plumbing of :class:`MLabNCClassifier`: building the skorch net, device, data.

Nothing here is public API: the estimator composes a :class:`FastNeuralNet` with
:func:`build_net`, resolves its device with :func:`resolve_device` and describes its
backbone for saving with :func:`module_spec`.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import math

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from torch import nn

from . import backbones
from ._batching import BatchIterator, TensorBatches
from ._health import FeatureHealth, check_final_loss
from ._losses import OneVsAllLoss, PickAllLabelLoss
from ._network import MLabNCNetwork
from ._precision import PRECISIONS, resolve_precision
from ._progress import EpochProgress
from ._selection import stratified_split
from .callbacks import CollapseMonitor

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
LOSSES = {
    "pal": PickAllLabelLoss,
    "pal_normalized": functools.partial(PickAllLabelLoss, normalize=True),
    "bce": OneVsAllLoss,
}
# Networks run in float32, where squares of values above ~1e19 overflow; well before that,
# activations and batch statistics lose all precision.
MAX_ABS_INPUT = 1e15


class PenalizedLoss(nn.Module):
    r"""Base loss on the logits plus ``feature_decay * mean_i ||h_i||^2`` on the features.

    The feature penalty is a per-sample mean, like the base loss, so its strength does not
    change with the batch size: over an epoch the objective is
    :math:`\frac1N\sum_i L_i + \lambda \frac1N \sum_i \|h_i\|^2`, the unconstrained
    feature model's (:func:`~sklearn_mlabnc.ufm.solve_ufm`) with
    :math:`\lambda_H = 2\lambda / N` (and :math:`\lambda_W` = the optimizer's
    ``weight_decay``).
    """

    def __init__(self, base: nn.Module, feature_decay: float = 0.0) -> None:
        super().__init__()
        self.base = base
        self.feature_decay = feature_decay

    def forward(self, outputs: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor):
        logits, features = outputs
        loss = self.base(logits, target)
        if self.feature_decay:
            loss = loss + self.feature_decay * features.pow(2).sum(dim=1).mean()
        return loss


class FastNeuralNet(NeuralNet):
    """``NeuralNet`` with the per-batch work of its training loop cut to what a GPU needs.

    - skorch records ``loss.item()`` per batch, a host<->device synchronisation that stalls a
      GPU between batches. Here the batch losses are summed on the device and read once per
      epoch; the history receives one batch record per epoch holding the sample-weighted
      mean, so skorch's epoch-level scoring callbacks see the same ``train_loss`` and
      ``valid_loss``. A non-finite epoch loss stops training with an actionable error.
    - The training features' squared norms and largest value are accumulated on the device
      beside the loss and read with it, so the dead-feature guard of
      :class:`~sklearn_mlabnc._health.FeatureHealth` costs no extra synchronisation.
    - The modules are put in training (or evaluation) mode once per epoch instead of once
      per batch, and batch-level events go only to the callbacks that define a handler for
      them: on small networks and on GPUs, where a step takes about a millisecond, skorch's
      per-batch Python bookkeeping would otherwise cost a fifth of the step. Per-batch
      history records are kept only where a callback wrote to them, plus one per epoch
      holding the loss.
    """

    # The data-parallel strategy (sklearn_mlabnc._parallel.DataParallel) while it trains.
    parallel_ = None

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
        health = self.feature_health if training else None
        for batch in iterator:
            if batch_begin or batch_end:  # a record per batch for callbacks that write one
                self.history.new_batch()
            for handler in batch_begin:
                handler(self, batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[0])
            weighted = step["loss"].detach() * size
            total = weighted if total is None else total + weighted
            if health is not None:
                health.add(step["y_pred"][1])
            n_seen += size
            for handler in batch_end:
                handler(self, batch=batch, training=training, **step)
            batch_count += 1
        if self.parallel_ is not None:  # totals over every process's shards
            total, n_seen, batch_count = self.parallel_.reduce_epoch(
                total, n_seen, batch_count, health
            )
        if batch_count:
            if health is None:
                mean_loss = total.item() / n_seen
            else:  # one transfer for the loss and the feature statistics
                loss_total, sq_norms, largest = health.epoch_values(total)
                mean_loss = loss_total / n_seen
            if not math.isfinite(mean_loss):
                epoch = len(self.history)
                raise FloatingPointError(
                    f"The {prefix} loss became {mean_loss} in epoch {epoch}: training "
                    "diverged. Lower the learning rate (lr), standardise X if it has large "
                    "values (e.g. with StandardScaler), use precision='float32', or enable "
                    "early_stopping to keep the best parameters."
                )
            if health is not None:  # mean ||h||^2 of the epoch's training batches
                self.history.record("feature_sq_norm", sq_norms / n_seen)
                health.check(sq_norms / n_seen, largest, len(self.history), self)
            batches = self.history[-1]["batches"]
            batches[:] = [record for record in batches if record]  # drop unused records
            self.history.new_batch()
            self.history.record_batch(prefix + "_loss", mean_loss)
            self.history.record_batch(prefix + "_batch_size", n_seen)
        self.history.record(prefix + "_batch_count", batch_count)

    @property
    def feature_health(self) -> FeatureHealth:
        """The dead-feature guard; its reference is set by the first training batch."""
        if getattr(self, "_feature_health", None) is None:
            self._feature_health = FeatureHealth()
        return self._feature_health

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
        (loss if self.parallel_ is None else self.parallel_.weigh(loss)).backward()
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


# ---------------------------------------------------------------------- building the net
def check_params(params: dict) -> None:
    """Checks of an estimator's parameters beyond ``_parameter_constraints``' types and ranges.

    Raises ``ValueError`` or ``TypeError`` naming the parameter, before any torch code can
    fail on the value with a less helpful error.
    """
    sizes = params["hidden_layer_sizes"]
    widths = list(sizes) if isinstance(sizes, (list, tuple, np.ndarray)) else None
    if (
        not widths
        or any(isinstance(w, (bool, np.bool_)) for w in widths)
        or not all(isinstance(w, (int, np.integer)) and w >= 1 for w in widths)
    ):
        raise ValueError(
            "hidden_layer_sizes must be a non-empty tuple of positive ints (the widths of "
            f"the hidden layers, e.g. (256, 256)); got {sizes!r}."
        )
    # bool is an int to Python and to scikit-learn's Interval; max_epochs=True is a slip.
    for name in ("feature_dim", "batch_size", "max_epochs", "n_iter_no_change", "collapse_every"):
        if isinstance(params[name], (bool, np.bool_)):
            raise TypeError(f"{name} must be an int, not a bool; got {params[name]!r}.")
    for callback in params["callbacks"] or []:
        named = isinstance(callback, tuple) and len(callback) == 2
        if named and not isinstance(callback[0], str):
            named = False
        target = callback[1] if named else callback
        is_callback = isinstance(target, Callback) or (
            isinstance(target, type) and issubclass(target, Callback)
        )
        if not is_callback:
            raise TypeError(
                "callbacks must be a list of skorch callbacks (instances or classes of "
                f"skorch.callbacks.Callback, or (name, callback) pairs); got {callback!r}."
            )
    resolve_device(params["device"])  # a bad device string is reported before training


def build_net(params: dict, X, n_outputs: int, n_labels: int, device, seed: int):
    """The initialised :class:`FastNeuralNet` for an estimator's ``get_params()``.

    ``X`` gives the input width (and an example batch when the backbone's output width
    must be inferred); ``n_outputs`` counts the labels plus a background output if any.
    """
    feature_dim = n_outputs if params["feature_dim"] == "n_classes" else params["feature_dim"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone, width = make_backbone(params, X, feature_dim)
        network = MLabNCNetwork(
            backbone,
            n_outputs=n_outputs,
            head=params["head"],
            feature_dim=feature_dim,
            n_backbone_outputs=width,
            # A user's backbone is run once on two rows, so a wrong output shape is
            # reported here rather than as a shape error deep inside training.
            example_input=None if params["module"] is None else _example_batch(X),
            random_state=seed,
            autocast_dtype=PRECISIONS[resolve_precision(params["precision"], device)],
        )
    if params["compile"]:
        network.compile()
    optimizer = OPTIMIZERS.get(params["optimizer"], params["optimizer"])
    optimizer_params = {"optimizer__weight_decay": params["weight_decay"]}
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.SGD):
        optimizer_params["optimizer__momentum"] = params["momentum"]
    if _fusable(optimizer, network, device):
        # One fused kernel updates every parameter instead of a few kernels each.
        optimizer_params["optimizer__fused"] = True
    net = FastNeuralNet(
        module=network,
        criterion=PenalizedLoss(LOSSES[params["loss"]](), params["feature_decay"]),
        optimizer=optimizer,
        lr=params["lr"],
        batch_size=params["batch_size"],
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_train__seed=seed,
        iterator_valid=BatchIterator,
        train_split=None,
        callbacks=_callbacks(params, n_labels),
        device=device,
        verbose=0,
        **optimizer_params,
    )
    return net.initialize()


def _callbacks(params: dict, n_labels: int) -> list:
    callbacks = []
    if params["lr_schedule"] == "cosine":
        schedule = LRScheduler(
            policy="CosineAnnealingLR", T_max=params["max_epochs"], eta_min=params["lr"] / 1000
        )
        callbacks.append(("lr_schedule", schedule))
    if params["early_stopping"]:
        stopping = EarlyStopping(patience=params["n_iter_no_change"], load_best=True)
        callbacks.append(("early_stopping", stopping))
    if params["collapse_every"]:
        on = ("train", "valid") if params["early_stopping"] else ("train",)
        monitor = CollapseMonitor(params["collapse_every"], on=on, n_labels=n_labels)
        callbacks.append(("collapse_monitor", monitor))
    callbacks += list(params["callbacks"] or [])
    if params["verbose"]:  # last, so that the line shows what the other callbacks recorded
        callbacks.append(("progress", EpochProgress(params["max_epochs"], params["verbose"])))
    return callbacks


def make_backbone(params: dict, X, feature_dim):
    """The backbone and its output width (None when it must be inferred)."""
    module = params["module"]
    if module is None:
        widths = [int(w) for w in params["hidden_layer_sizes"]]
        if feature_dim is not None:  # d sets the width of the last hidden layer
            widths = widths[:-1] + [feature_dim]
        mlp = backbones.MLP(X.shape[1], widths, dropout=params["dropout"])
        return mlp, mlp.n_outputs
    if isinstance(module, nn.Module):
        backbone = copy.deepcopy(module)
        for layer in backbone.modules():
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
    else:
        kwargs = {}
        if feature_dim is not None and _accepts(module, "n_outputs"):
            kwargs["n_outputs"] = feature_dim  # the backbone itself ends at width d
        backbone = module(X.shape[1], **kwargs)
        if not isinstance(backbone, nn.Module):
            raise TypeError(
                "module must be a torch.nn.Module instance or a callable returning one "
                f"when called as module(n_features_in_); got {type(backbone).__name__}."
            )
    return backbone, getattr(backbone, "n_outputs", None)


def split_datasets(X, targets, device, params: dict, seed: int):
    """Training batches, and validation batches when early stopping holds some data out."""
    if not params["early_stopping"]:
        return TensorBatches(X, targets, device), None
    fraction = params["validation_fraction"]
    n_valid = max(1, int(round(fraction * X.shape[0])))
    if X.shape[0] - n_valid < 2:
        raise ValueError(
            f"early_stopping with validation_fraction={fraction} leaves fewer than 2 "
            f"training samples out of {X.shape[0]}; use more data or early_stopping=False."
        )
    # Multi-label-stratified, so that rare labels are seen on both sides (see _selection).
    labels = np.asarray(targets)
    labels = labels if labels.ndim == 2 else labels[:, None] == np.unique(labels)
    train_idx, valid_idx = stratified_split(labels, fraction, seed)
    return (
        TensorBatches(X[train_idx], targets[train_idx], device),
        TensorBatches(X[valid_idx], targets[valid_idx], device),
    )


def resolve_device(device) -> torch.device:
    """The torch device for a ``device`` parameter, with errors naming the fix."""
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(
                f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
            ) from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"Unsupported device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'.")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False). Use device='cpu' or 'auto', or install a "
            "CUDA build of torch."
        )
    if resolved.type == "cuda" and resolved.index is not None:
        if resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: {torch.cuda.device_count()} CUDA device(s)."
            )
    return resolved


def check_input_magnitude(X) -> None:
    """Refuse inputs too large for float32 networks, naming the fix."""
    values = X.data if sp.issparse(X) else X
    # max and min, not abs().max(): no temporary copy of X (validation rejected NaN and inf).
    largest = max(float(values.max()), -float(values.min())) if values.size else 0.0
    if largest > MAX_ABS_INPUT:
        raise ValueError(
            f"X has values as large as {largest:.3g} in magnitude; the network computes in "
            f"float32 and cannot train or predict on values beyond {MAX_ABS_INPUT:.0e}. "
            "Standardise X first (e.g. sklearn.preprocessing.StandardScaler)."
        )


def _accepts(factory, name: str) -> bool:
    try:
        return name in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False


def _example_batch(X) -> torch.Tensor:
    rows = X[:2]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    return torch.as_tensor(rows, dtype=torch.float32)


def _fusable(optimizer, network: nn.Module, device) -> bool:
    """Whether ``optimizer`` can run as torch's fused single-kernel update here."""
    return (
        optimizer in OPTIMIZERS.values()
        and torch.device(device).type in ("cpu", "cuda")
        and all(p.dtype in (torch.float32, torch.float64) for p in network.parameters())
    )


def train_epochs(net, train, valid, epochs: int, seed: int) -> None:
    """Train ``net`` for ``epochs`` more epochs on prepared batches, reproducibly.

    Warns (:mod:`._health`) when the features die during training and, after more than one
    epoch, when the final loss is no better than a constant predictor's.
    """
    net.train_split = FixedSplit(valid) if valid is not None else None
    net.max_epochs = epochs
    # Dropout draws from torch's global generator: seed it for this call only, so fits
    # are reproducible and the caller's random state is left alone.
    device = torch.device(net.device)
    cuda = [device.index or 0] if device.type == "cuda" else []
    net.feature_health.warned = False  # warn at most once per call
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed + len(net.history))
        net.partial_fit(train, None)
    net.train_split = None  # do not keep (device) data inside the fitted model
    if epochs > 1:  # a single epoch (partial_fit) may still be on its way down
        check_final_loss(net, train.Y)


def forward_batches(module: nn.Module, dataset, batch_size: int):
    """Logits and features of ``module`` over ``dataset``, concatenated on its device."""
    # Inference leaves the module in eval mode rather than restoring the previous mode:
    # toggling back would race with concurrent predict calls from other threads.
    module.eval()
    logits, features = [], []
    with torch.inference_mode():
        for Xb, _ in BatchIterator(dataset, batch_size=batch_size):
            z, h = module(Xb)
            logits.append(z)
            features.append(h)
    return torch.cat(logits), torch.cat(features)


# ------------------------------------------------------------------ saving the parameters
def params_to_json(params: dict) -> dict:
    """An estimator's ``get_params()`` as JSON-friendly values, or an error naming why not."""
    params = dict(params)
    params["module"] = module_spec(params["module"])
    if params["callbacks"]:
        raise ValueError(
            "Models with extra skorch callbacks cannot be saved without pickle; set "
            "callbacks=None before saving or use pickle/joblib."
        )
    params["device"] = str(params["device"])
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None  # a RandomState object is not saved
    return params


def params_from_json(params: dict) -> dict:
    """The ``get_params()`` that :func:`params_to_json` described."""
    return {**params, "module": module_from_spec(params["module"])}


def module_spec(module):
    """A JSON description of a ``module`` parameter that can be rebuilt without pickle."""
    if module is None:
        return None
    target, kwargs = module, {}
    if isinstance(module, functools.partial) and not module.args:
        target, kwargs = module.func, dict(module.keywords)
    name = getattr(target, "__name__", None)
    if name not in backbones.__all__ or getattr(backbones, name) is not target:
        raise ValueError(
            "save() can only store backbones from sklearn_mlabnc.backbones (a class or a "
            f"functools.partial of one); got {module!r}. Use pickle or joblib for custom "
            "modules."
        )
    try:
        json.dumps(kwargs)
    except TypeError as exc:
        raise ValueError(f"The backbone's keyword arguments are not JSON-friendly: {exc}") from exc
    return {"backbone": name, "kwargs": kwargs}


def module_from_spec(spec):
    """The ``module`` parameter that :func:`module_spec` described."""
    if spec is None:
        return None
    if spec.get("backbone") not in backbones.__all__:
        raise ValueError(f"Unknown backbone {spec.get('backbone')!r} in the saved model.")
    cls = getattr(backbones, spec["backbone"])
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["kwargs"].items()}
    return functools.partial(cls, **kwargs) if kwargs else cls
