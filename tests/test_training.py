import inspect

import numpy as np
import pytest
import skorch
import torch
from packaging import version
from skorch import NeuralNet
from skorch.callbacks import Callback, GradientNormClipping, LRScheduler
from skorch.history import History

from sklearn_mlabnc import MLabNCClassifier, MLabNCNetwork, PickAllLabelLoss
from sklearn_mlabnc._batching import BatchIterator, TensorBatches
from sklearn_mlabnc._training import FastNeuralNet, FixedSplit, PenalizedLoss
from sklearn_mlabnc.backbones import MLP


def _data(n=100, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.eye(4, dtype=np.float32)[rng.integers(4, size=n)]
    Y[: n // 3, 0] = 1
    X = (Y @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(n, 6))).astype(np.float32)
    return X, Y


def _net(callbacks=(), optimizer=torch.optim.SGD, valid=None, **kwargs):
    torch.manual_seed(0)
    network = MLabNCNetwork(MLP(6, (8,), dropout=0.5), n_outputs=4, n_backbone_outputs=8)
    return FastNeuralNet(
        module=network,
        criterion=PenalizedLoss(PickAllLabelLoss(), feature_decay=1e-3),
        optimizer=optimizer,
        lr=0.05,
        batch_size=32,
        max_epochs=3,
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_train__seed=0,
        iterator_valid=BatchIterator,
        train_split=FixedSplit(valid) if valid is not None else None,
        callbacks=list(callbacks),
        verbose=0,
        **kwargs,
    ).initialize()


class BatchRecorder(Callback):
    """Records, per batch, the loss, the batch size and whether the module is training."""

    def initialize(self):
        self.begin, self.end = [], []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.begin.append((training, net.module_.training))

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.end.append((training, float(loss.detach()), len(batch[0])))


def test_epoch_loss_is_the_sample_weighted_mean_of_the_batch_losses():
    X, Y = _data(n=100)  # batches of 32, 32, 36 (a last batch of 4 would be kept; 1 merged)
    recorder = BatchRecorder()
    net = _net([("recorder", recorder)])
    net.partial_fit(TensorBatches(X, Y, "cpu"))
    per_epoch = np.array_split(np.array([(loss, size) for _, loss, size in recorder.end]), 3)
    for row, batches in zip(net.history, per_epoch, strict=True):
        expected = (batches[:, 0] * batches[:, 1]).sum() / batches[:, 1].sum()
        assert row["train_loss"] == pytest.approx(expected, rel=1e-6)
        assert len(row["batches"]) == 1  # one record per epoch, not one per batch
        assert row["train_batch_count"] == len(batches) == 4


def test_modes_are_set_per_epoch_and_events_reach_callbacks():
    X, Y = _data(n=100)
    recorder = BatchRecorder()
    net = _net([("recorder", recorder)], valid=TensorBatches(X[:40], Y[:40], "cpu"))
    net.partial_fit(TensorBatches(X, Y, "cpu"))
    assert len(recorder.begin) == len(recorder.end) == 3 * (4 + 2)
    assert {mode for mode in recorder.begin} == {(True, True), (False, False)}
    assert all(row["valid_loss"] > 0 for row in net.history)


def test_no_op_handlers_are_skipped_and_overrides_are_kept():
    recorder = BatchRecorder()
    net = _net([("recorder", recorder)])
    begin = net._listeners("on_batch_begin")
    assert [h.__self__ for h in begin] == [recorder]  # not skorch's no-op callbacks
    assert net._listeners("on_grad_computed") == []


def test_gradient_callbacks_still_see_the_gradients():
    X, Y = _data()
    before = {k: v.clone() for k, v in _net().module_.state_dict().items()}

    def moved(callbacks):
        net = _net(callbacks)
        net.partial_fit(TensorBatches(X, Y, "cpu"))
        state = net.module_.state_dict()
        return max((state[k] - before[k]).abs().max().item() for k in before if "weight" in k)

    clipped = moved([("clip", GradientNormClipping(gradient_clip_value=1e-6))])
    free = moved([])
    assert clipped < 1e-3 < free


def test_optimizers_that_call_the_closure_repeatedly():
    X, Y = _data()
    net = _net(optimizer=torch.optim.LBFGS, optimizer__max_iter=5)
    net.partial_fit(TensorBatches(X, Y, "cpu"))
    losses = [row["train_loss"] for row in net.history]
    assert losses[-1] < losses[0] and all(np.isfinite(losses))


def test_penalized_loss_adds_the_per_sample_mean_feature_norm():
    logits, features = torch.randn(5, 3), torch.randn(5, 4)
    target = torch.eye(3)[[0, 1, 2, 0, 1]]
    base = PickAllLabelLoss()
    penalized = PenalizedLoss(base, feature_decay=0.1)((logits, features), target)
    expected = base(logits, target) + 0.1 * (features**2).sum() / 5
    assert penalized.item() == pytest.approx(expected.item(), rel=1e-6)


def test_per_batch_callbacks_keep_their_history_records():
    X, Y = _data(n=100)
    schedule = LRScheduler(
        policy=torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, total_steps=12, step_every="batch"
    )
    net = _net([("schedule", schedule), ("recorder", BatchRecorder())])
    net.partial_fit(TensorBatches(X, Y, "cpu"))
    for row in net.history:
        batches = row["batches"]
        assert [("event_lr" in b) for b in batches] == [True] * 4 + [False]
        assert "train_loss" in batches[-1]
    assert net.optimizer_.param_groups[0]["lr"] < 0.01  # the one-cycle schedule ran


# FastNeuralNet overrides or calls these skorch internals; skorch>=1.1,<2 is pinned in
# pyproject.toml. When a skorch release renames or reshapes one, this test names it.
SKORCH_INTERNALS = {
    (NeuralNet, "run_single_epoch"): ["self", "iterator", "training", "prefix", "step_fn"],
    (NeuralNet, "_set_training"): ["self", "training"],
    (NeuralNet, "train_step"): ["self", "batch"],
    (NeuralNet, "train_step_single"): ["self", "batch"],
    (History, "new_batch"): ["self"],
    (History, "record_batch"): ["self", "attr", "value"],
    (History, "record"): ["self", "attr", "value"],
}


@pytest.mark.parametrize(
    "owner, name", list(SKORCH_INTERNALS), ids=[n for _, n in SKORCH_INTERNALS]
)
def test_the_skorch_internals_fast_neural_net_relies_on_are_unchanged(owner, name):
    method = getattr(owner, name, None)
    assert method is not None, (
        f"skorch {skorch.__version__} has no {owner.__name__}.{name}, which "
        "sklearn_mlabnc._training.FastNeuralNet overrides or calls: adapt FastNeuralNet "
        "to the new skorch or pin skorch below this version."
    )
    positional = [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert positional == SKORCH_INTERNALS[owner, name], (
        f"skorch {skorch.__version__} changed {owner.__name__}.{name}{inspect.signature(method)}"
        " that sklearn_mlabnc._training.FastNeuralNet relies on: adapt FastNeuralNet."
    )


def test_skorch_still_keeps_optimizers_and_callbacks_where_fast_neural_net_reads_them():
    X = np.zeros((4, 3), dtype=np.float32)
    clf = MLabNCClassifier(hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    net = clf.fit(X, np.array([[1, 0], [0, 1]] * 2)).net_
    assert len(net._optimizers) == 1, "skorch's NeuralNet._optimizers changed"
    assert all(isinstance(cb, Callback) for _, cb in net.callbacks_), "callbacks_ changed"
    assert set(Callback.__dict__) >= {"on_batch_begin", "on_batch_end", "on_grad_computed"}
    assert version.parse(skorch.__version__).major < 2, "skorch 2 is not supported yet"
