"""Progress of a fit, as scikit-learn's and skorch's estimators print it.

``verbose=1`` prints one plain line per epoch (epoch, training loss, validation loss and
scores when there are any, seconds); the lines read the same in a terminal and in a log
file. On a terminal, a live bar over the epochs sits below the lines and disappears when
the fit ends; elsewhere nothing but the lines is written (no carriage returns).
``verbose=2`` adds the learning rate, the features' mean squared norm and the collapse
metrics that ``collapse_every`` records.
"""

from __future__ import annotations

import math
import sys
from numbers import Real

from skorch.callbacks import Callback

# Always shown at verbose=1 when the history has them, in this order.
_MAIN = ("train_loss", "valid_loss")
# History keys that are bookkeeping, never shown.
_HIDDEN = ("epoch", "dur", "batches", "train_batch_count", "valid_batch_count")


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _cell(key: str, value: float) -> str:
    # Fixed decimals, so that the columns of successive lines line up.
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{key} {value:.4f}"
    return f"{key} {value:.3e}"


def epoch_line(row: dict, total: int, verbose: int) -> str:
    """The progress line of one epoch from its skorch history row.

    At ``verbose=1``: the losses and every other validation score (``valid_*``) recorded
    by a scoring callback; at ``verbose >= 2`` every other number of the row too (learning
    rate, feature norm, training collapse metrics). Collapse metrics of the validation
    split are left out: they would double the line; ``history_`` keeps them.
    """
    width = len(str(total))
    parts = [f"epoch {row['epoch']:>{width}}/{total}"]
    shown = [k for k in _MAIN if k in row]
    extra = [k for k, v in row.items() if _is_number(v) and _extra(k, verbose)]
    for key in [*shown, *extra]:
        if not math.isfinite(row[key]):
            continue  # e.g. NC4 before a prototype exists: nothing to read
        cell = _cell(_short(key), float(row[key]))
        if row.get(f"{key}_best"):
            cell += "*"  # skorch's mark: the best value so far
        parts.append(cell)
    if "dur" in row:
        parts.append(f"{row['dur']:.2f} s")
    return "  ".join(parts)


_COLLAPSE_PREFIXES = ("nc1", "nc2", "nc3", "nc4", "nc_m", "c_m", "soft_iou")


def _is_collapse_key(key: str) -> bool:
    return key.split("_", 1)[-1].startswith(_COLLAPSE_PREFIXES)


def _extra(key: str, verbose: int) -> bool:
    if key in _MAIN or key in _HIDDEN or key.endswith("_best"):
        return False
    if key.startswith("valid_"):  # a scoring callback's validation score
        return not _is_collapse_key(key)
    return verbose >= 2


def _short(key: str) -> str:
    return "lr" if key == "event_lr" else key


class EpochProgress(Callback):
    """Prints one line per epoch; on a terminal, also a live bar over the epochs.

    Parameters
    ----------
    total : int
        Number of epochs of the fit (``max_epochs``).
    verbose : int, default=1
        1: losses, validation scores and time; 2: also the learning rate, the features'
        mean squared norm and the training collapse metrics.
    stream : file-like, optional
        Where the lines go; ``sys.stdout`` at the start of the fit by default, as
        scikit-learn's ``MLPClassifier`` prints.
    """

    def __init__(self, total: int, verbose: int = 1, stream=None) -> None:
        self.total = total
        self.verbose = verbose
        self.stream = stream

    def on_train_begin(self, net, **kwargs):
        self.out_ = self.stream if self.stream is not None else sys.stdout
        self.bar_ = None
        isatty = getattr(self.out_, "isatty", None)
        if isatty is not None and isatty():
            from tqdm.auto import tqdm

            self.bar_ = tqdm(
                total=self.total, desc="epochs", unit="epoch", leave=False, file=self.out_
            )

    def on_epoch_end(self, net, **kwargs):
        line = epoch_line(net.history[-1], self.total, self.verbose)
        if self.bar_ is None:
            print(line, file=self.out_, flush=True)
        else:
            self.bar_.write(line, file=self.out_)
            self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("bar_", None)
        state.pop("out_", None)
        return state
