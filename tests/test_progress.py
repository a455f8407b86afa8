"""Progress output of a fit: one line per epoch, a live bar only on a terminal."""

import io
import re

import numpy as np
import pytest
from skorch.callbacks import EpochScoring

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc._progress import EpochProgress, epoch_line


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    Y = (X[:, :3] > 0).astype(int)
    Y[Y.sum(1) == 0, 0] = 1
    return X, Y


def _fit(data, **params):
    X, Y = data
    params = {"max_epochs": 4, "decision": "cardinality", "random_state": 0, "lr": 1e-2, **params}
    return MLabNCClassifier(hidden_layer_sizes=(8,), **params).fit(X, Y)


def test_verbose_1_prints_one_plain_line_per_epoch(data, capsys):
    clf = _fit(data, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert len(lines) == 4
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/4  train_loss ")
        assert re.search(r"  \d+\.\d\d s$", line)
        loss = float(re.search(r"train_loss (\S+?)\*?  ", line).group(1))
        assert loss == pytest.approx(clf.history_[epoch - 1]["train_loss"], abs=1e-4)
    assert "lr" not in out and "nc1" not in out


def test_verbose_1_shows_validation_loss_and_scores(data, capsys):
    def rows(net, X, y):  # a scoring callable: the size of the validation split
        return float(len(X))

    scoring = EpochScoring(rows, name="valid_rows", lower_is_better=False)
    _fit(data, verbose=1, early_stopping=True, callbacks=[("rows", scoring)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all("valid_loss " in line for line in lines)
    # The score a user's callback records in the same epoch is on the line.
    assert all(re.search(r"valid_rows \d+\.0000", line) for line in lines)


def test_verbose_2_adds_learning_rate_and_collapse_metrics(data, capsys):
    clf = _fit(data, verbose=2, collapse_every=3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all(" lr " in line and "feature_sq_norm" in line for line in lines)
    recorded = ["train_nc1" in row for row in clf.history_]
    assert 0 < sum(recorded) < 4  # not every epoch: the line follows the history
    assert ["train_nc1 " in line for line in lines] == recorded
    assert "n/a" not in "".join(lines) and "nan" not in "".join(lines)


def test_silent_by_default(data, capsys):
    _fit(data)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("terminal", [False, True])
def test_live_bar_only_on_a_terminal(terminal):
    stream = _Terminal() if terminal else io.StringIO()
    progress = EpochProgress(3, stream=stream)

    class Net:
        history = []

    net = Net()
    progress.on_train_begin(net)
    for epoch in range(1, 4):
        net.history.append({"epoch": epoch, "train_loss": 1.0 / epoch, "dur": 0.5})
        progress.on_epoch_end(net)
    progress.on_train_end(net)
    text = stream.getvalue()
    lines = [line for line in re.split(r"[\r\n]", text) if line.startswith("epoch ")]
    assert lines == [
        "epoch 1/3  train_loss 1.0000  0.50 s",
        "epoch 2/3  train_loss 0.5000  0.50 s",
        "epoch 3/3  train_loss 0.3333  0.50 s",
    ]
    assert ("\r" in text) is terminal  # the bar redraws itself with carriage returns


def test_epoch_line_formats():
    row = {
        "epoch": 7,
        "train_loss": 0.25,
        "train_loss_best": True,
        "valid_loss": 12345.0,
        "valid_acc": 0.5,
        "valid_nc1": 0.1,
        "event_lr": 1e-5,
        "dur": 1.234,
        "batches": [],
    }
    assert epoch_line(row, 10, 1) == (
        "epoch  7/10  train_loss 0.2500*  valid_loss 1.234e+04  valid_acc 0.5000  1.23 s"
    )
    assert epoch_line(row, 10, 2).endswith("valid_acc 0.5000  lr 1.000e-05  1.23 s")


def test_progress_pickles_without_its_stream():
    import pickle

    progress = EpochProgress(2, stream=io.StringIO())
    progress.on_train_begin(None)
    restored = pickle.loads(pickle.dumps(progress))
    assert restored.total == 2 and not hasattr(restored, "out_")
