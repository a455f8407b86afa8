"""The paper reproduction behind ``mlabnc reproduce``: its protocol, runs and records.

:data:`PROTOCOL` is the training protocol under which both heads of the multi-label
digits reach the terminal phase and multi-label neural collapse within CPU minutes (found
by measurement; see the benchmarks page). :func:`run_experiment` trains one configuration
and returns its :class:`RunRecord`: the fitted model, the per-epoch history with the
collapse metrics in the library's convention and in the paper's, the final metrics in
both, the tag-wise view, test scores, training accuracy, trainable parameters and the
warnings raised. :func:`results_document` gathers the records into the JSON written as
``results.json``. Drawing and printing are the command line's.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from ._decision import default_rule
from .backbones import SmallCNN
from .callbacks import CollapseMonitor
from .collapse import collapse_curves, collapse_report, tagwise_view

__all__ = [
    "CONVENTIONS",
    "PROTOCOL",
    "LinearFeatureCNN",
    "PaperConventionMonitor",
    "RunRecord",
    "finite_or_none",
    "cnn_module",
    "make_configs",
    "results_document",
    "run_experiment",
    "ufm_prediction",
]

#: Training protocol of the reproduction (all heads and losses): SGD with momentum and a
#: cosine schedule, no dropout, weight decay on every parameter and a per-sample feature
#: penalty; the MLP backbone ends in a plain linear feature layer (``feature_layer``).
PROTOCOL: dict[str, Any] = dict(
    optimizer="sgd",
    lr=0.05,
    momentum=0.9,
    lr_schedule="cosine",
    max_epochs=200,
    batch_size=128,
    weight_decay=5e-3,
    feature_decay=0.03,
    dropout=0.0,
)
#: Report conventions: the library's defaults, and the paper's code (global mean of its
#: ``utility.py``, uncentred singleton means in NC2; both use the singleton classes and the
#: uncentred tag-wise average).
CONVENTIONS: dict[str, dict[str, Any]] = {
    "library": {},
    "paper": {"global_mean": "paper", "centered": False},
}
HEAD_NAMES = {"linear": "learned head", "etf": "fixed ETF, d=K"}
_SUMMARY_KEYS = ("nc1", "nc2_classifier", "nc2_means", "nc3")


class PaperConventionMonitor(CollapseMonitor):
    """A :class:`CollapseMonitor` in the paper's convention, recording ``paper_<metric>``.

    Examples
    --------
    >>> from sklearn_mlabnc._reproduce import PaperConventionMonitor
    >>> from sklearn.base import clone
    >>> clone(PaperConventionMonitor(5)).report_options
    {'global_mean': 'paper', 'centered': False}
    """

    def __init__(
        self,
        every: int = 10,
        on=("train",),
        n_labels: int | None = None,
        report_options: dict | None = None,
    ) -> None:
        # The parent's parameters, with the options as one dict, so clone() can copy it.
        super().__init__(every, on, n_labels)
        self.report_options = (
            dict(CONVENTIONS["paper"]) if report_options is None else report_options
        )

    def _history_key(self, prefix: str, key: str) -> str:
        return f"paper_{key}" if prefix == "train" else f"paper_{prefix}_{key}"


@dataclass
class RunRecord:
    """One trained configuration of the reproduction and everything measured on it."""

    name: str
    config: dict
    model: Any
    seconds: float
    history: list[dict]
    final: dict[str, dict[str, float]]
    curves: dict[str, dict[str, list]]
    tagwise: Any
    test: dict[str, float]
    train_accuracy: float
    trainable_params: int
    ufm_c_m: dict[int, float] = field(default_factory=dict)
    ufm_problem: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self, convention: str) -> dict[str, Any]:
        """One table row: scores and the final metrics in ``convention``."""
        final, curve = self.final[convention], self.curves[convention].get("nc1", [])
        first = curve[0] if curve else math.nan
        fall = first / final["nc1"] if final["nc1"] and final["nc1"] > 0 else math.nan
        row = {
            "model": self.name,
            "micro-F1": self.test["micro-F1"],
            "train acc": self.train_accuracy,
            "params": self.trainable_params,
            "NC1 first": first,
            "NC1": final["nc1"],
            "NC1 fall": fall,
            "NC2 (W)": final["nc2_classifier"],
            "NC2 (means)": final["nc2_means"],
            "NC3": final["nc3"],
        }
        for m, value in sorted(final.get("nc_m", {}).items()):
            row[f"NC_m (m={m})"] = value
        for m, value in sorted(final.get("c_m", {}).items()):
            row[f"c_{m}"] = value
        row["fit (s)"] = self.seconds
        return row

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready values (NaN and inf become ``null``)."""
        return finite_or_none(
            {
                "name": self.name,
                "config": {k: v for k, v in self.config.items() if k != "module"},
                "seconds": self.seconds,
                "trainable_params": self.trainable_params,
                "train_accuracy": self.train_accuracy,
                "test": self.test,
                "final": self.final,
                "ufm_c_m": self.ufm_c_m,
                "ufm_problem": self.ufm_problem,
                "tagwise": {
                    "labels": [list(s) for s in self.tagwise.labels],
                    "angle_deg": self.tagwise.angle.tolist(),
                    "scale": self.tagwise.scale.tolist(),
                    "c_m": self.tagwise.c_m,
                    "reference_angle_deg": self.tagwise.reference_angle,
                },
                "history": self.history,
                "warnings": self.warnings,
            }
        )


def make_configs(losses, heads, module_for, feature_dim) -> dict[str, dict]:
    """``{name: classifier parameters}`` over losses and heads (ETF heads with d = K).

    ``module_for(head)`` gives the backbone; ``feature_dim`` is the learned head's ``d``. The
    decision rule is the loss's default (cardinality for PAL, the sigmoid cut for BCE),
    fixed, and ``predict_proba`` is not calibrated (``calibration="off"``), so that no fold
    models are trained.

    Examples
    --------
    >>> from sklearn_mlabnc._reproduce import make_configs
    >>> configs = make_configs(["pal"], ["linear", "etf"], lambda head: None, 512)
    >>> {name: c["feature_dim"] for name, c in configs.items()}
    {'pal, learned head': 512, 'pal, fixed ETF, d=K': 'n_classes'}
    """
    configs = {}
    for loss in losses:
        for head in heads:
            dim = "n_classes" if head == "etf" else feature_dim
            configs[f"{loss}, {HEAD_NAMES[head]}"] = dict(
                loss=loss,
                head=head,
                module=module_for(head),
                feature_dim=dim,
                decision=default_rule(loss),
                calibration="off",  # the experiment reads no predict_proba
            )
    return configs


def run_experiment(name: str, params: dict, data, *, every: int) -> RunRecord:
    """Train ``MLabNCClassifier(**params)`` on ``data`` and measure everything.

    ``data`` is ``(X_train, Y_train, X_test, Y_test)``; the collapse metrics are recorded
    every ``every`` epochs in both conventions.
    """
    from sklearn.metrics import f1_score, hamming_loss

    from ._classifier import MLabNCClassifier

    X_train, Y_train, X_test, Y_test = data
    monitor = PaperConventionMonitor(every, n_labels=Y_train.shape[1])
    clf = MLabNCClassifier(collapse_every=every, callbacks=[("paper_monitor", monitor)], **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        clf.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        H = clf.transform(X_train)
        W, b = clf.coef_, clf.intercept_
        final = {
            convention: _final_metrics(H, Y_train, W, b, options)
            for convention, options in CONVENTIONS.items()
        }
        view = tagwise_view(H, Y_train)
        Y_pred = clf.predict(X_test)
        train_accuracy = float(np.mean(np.all(clf.predict(X_train) == Y_train, axis=1)))
    test = {
        "micro-F1": float(f1_score(Y_test, Y_pred, average="micro", zero_division=0)),
        "macro-F1": float(f1_score(Y_test, Y_pred, average="macro", zero_division=0)),
        "Hamming": float(hamming_loss(Y_test, Y_pred)),
    }
    curves = {
        "library": collapse_curves(clf.history_, "train"),
        "paper": collapse_curves(clf.history_, "paper"),
    }
    n_params = sum(p.numel() for p in clf.net_.module_.parameters() if p.requires_grad)
    config = {**params, "collapse_every": every}
    ufm_c_m, ufm_problem = ufm_prediction(Y_train, params)
    return RunRecord(
        name=name,
        config=config,
        model=clf,
        seconds=seconds,
        history=[_epoch_row(row) for row in clf.history_],
        final=final,
        curves=curves,
        tagwise=view,
        test=test,
        train_accuracy=train_accuracy,
        trainable_params=int(n_params),
        ufm_c_m=ufm_c_m,
        ufm_problem=ufm_problem,
        warnings=_messages(caught),
    )


def ufm_prediction(Y: np.ndarray, params: dict) -> tuple[dict[int, float], str]:
    """``c_m`` of the UFM optimum that models this run, and the name of that problem.

    The UFM matches the run like for like: ``W`` learned for a learned head, fixed to the
    unit simplex ETF for ``head="etf"`` (only the features and the bias free); the
    estimator's ``weight_decay`` as :math:`\\lambda_W` and :math:`\\lambda_b` (the decay
    applies to every parameter) and its per-sample ``feature_decay`` unchanged. PAL and
    PAL-N on label sets balanced within each multiplicity use the reduced problem; anything
    else (BCE, unbalanced counts) the full solver with ``d = K``. Without a feature penalty,
    or when no singletons occur, the result is ``({}, "")``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._reproduce import ufm_prediction
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]])
    >>> decays = {"weight_decay": 5e-3, "feature_decay": 0.03}
    >>> learned, problem = ufm_prediction(Y, {"loss": "pal", "head": "linear", **decays})
    >>> sorted(learned), bool(1 < learned[2] < 2), problem.split(",")[:3]
    ([2], True, ['reduced UFM', ' PAL', ' W learned'])
    >>> fixed, problem = ufm_prediction(Y, {"loss": "pal", "head": "etf", **decays})
    >>> bool(fixed[2] < learned[2]), "W fixed to the unit ETF" in problem
    (True, True)
    >>> bce, problem = ufm_prediction(Y, {"loss": "bce", "head": "linear", **decays})
    >>> problem.split(",")[:2], "lambda_b=0.005" in problem
    (['full UFM', ' BCE'], True)
    """
    from .ufm import reduced_problem, solve_ufm

    loss = params.get("loss", "pal")
    fixed = "etf" if params.get("head") == "etf" else None
    decays = dict(weight_decay=params["weight_decay"], feature_decay=params["feature_decay"])
    if not decays["feature_decay"] or not decays["weight_decay"]:
        return {}, ""
    Y = np.asarray(Y)
    if not np.all(Y[Y.sum(axis=1) == 1].sum(axis=0) > 0):
        return {}, ""  # c_m needs every label's singleton mean: not worth solving
    per_m = _balanced_counts(Y) if loss != "bce" else None
    try:
        if per_m is not None:
            solution = reduced_problem(
                per_m, Y.shape[1], loss=loss, fixed_classifier=fixed, **decays
            )
            c_m = solution.c_m
        else:
            solution = solve_ufm(
                Y,
                loss=loss,
                fixed_classifier=fixed,
                bias_decay=decays["weight_decay"],
                random_state=0,
                **decays,
            )
            with warnings.catch_warnings():  # NC1 of an exactly collapsed solution is 0/0
                warnings.simplefilter("ignore", RuntimeWarning)
                c_m = solution.report().c_m
    except ValueError:
        return {}, ""
    c_m = {int(m): float(c) for m, c in c_m.items() if m >= 2 and math.isfinite(c)}
    return (c_m, solution.problem) if c_m else ({}, "")


def _balanced_counts(Y: np.ndarray) -> dict[int, int] | None:
    """``{m: n_m}`` when every label set of each multiplicity occurs equally often."""
    sets, counts = np.unique(np.asarray(Y, dtype=int), axis=0, return_counts=True)
    sizes = sets.sum(axis=1)
    K = Y.shape[1]
    per_m = {}
    for m in np.unique(sizes):
        here = counts[sizes == m]
        if m < 1 or len(here) != math.comb(K, int(m)) or len(set(here.tolist())) != 1:
            return None
        per_m[int(m)] = int(here[0])
    return per_m if 1 in per_m and len(per_m) >= 2 else None


def results_document(records: list[RunRecord], *, command: str, dataset: str) -> dict:
    """The ``results.json`` document: the command, the conventions and every run."""
    return {
        "command": command,
        "dataset": dataset,
        "conventions": {
            "library": "singleton classes, global mean = sample-weighted mean of the "
            "singleton samples, NC2 of centred means, uncentred NC_m",
            "paper": "the official code's: global mean = sum of the singleton features "
            "divided by all samples, NC2 of uncentred means, uncentred NC_m",
        },
        "runs": [record.to_json() for record in records],
    }


def finite_or_none(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by ``None`` and numpy scalars made Python.

    Examples
    --------
    >>> from sklearn_mlabnc._reproduce import finite_or_none
    >>> finite_or_none({"a": float("nan"), "b": [1.5, float("inf")], 2: (3,)})
    {'a': None, 'b': [1.5, None], '2': [3]}
    """
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    return value if isinstance(value, (str, type(None))) else str(value)


def mlp_module(hidden, feature_layer: str):
    """The MLP backbone factory of the reproduction (no dropout)."""
    from .backbones import MLP

    return functools.partial(
        MLP, hidden_layer_sizes=tuple(hidden), feature_layer=feature_layer, dropout=0.0
    )


class LinearFeatureCNN(nn.Module):
    """``SmallCNN`` (conv blocks, global pooling) then a plain ``Linear`` feature layer.

    The features can take any sign, as the unconstrained feature model's (SmallCNN's own
    ``n_outputs`` layer ends in a ReLU).

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc._reproduce import LinearFeatureCNN
    >>> LinearFeatureCNN(256, 5, channels=(4, 8))(torch.randn(2, 256)).shape
    torch.Size([2, 5])
    """

    def __init__(
        self, n_inputs, n_outputs=None, input_shape=(1, 16, 16), channels=(32, 64)
    ) -> None:
        super().__init__()
        self.body = SmallCNN(n_inputs, input_shape=input_shape, channels=channels)
        width = int(channels[-1])
        self.n_outputs = width if n_outputs is None else int(n_outputs)
        self.feature_layer = nn.Linear(width, self.n_outputs)

    def forward(self, x):
        return self.feature_layer(self.body(x))


def cnn_module(input_shape, channels=(32, 64)):
    """The convolutional backbone factory of the reproduction (``--backbone smallcnn``).

    :class:`~sklearn_mlabnc.backbones.SmallCNN`'s conv blocks and pooling, then a plain
    linear feature layer of width ``d`` (:class:`LinearFeatureCNN`), like the MLP's.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mlabnc._reproduce import cnn_module
    >>> net = cnn_module((1, 16, 16), channels=(4, 8))(256, n_outputs=10)
    >>> net(torch.randn(3, 256)).shape, net.n_outputs
    (torch.Size([3, 10]), 10)
    """
    return functools.partial(LinearFeatureCNN, input_shape=tuple(input_shape), channels=channels)


def _final_metrics(H, Y, W, b, options: dict) -> dict[str, Any]:
    report = collapse_report(H, Y, W=W, b=b, **options)
    out = {key: float(getattr(report, key)) for key in _SUMMARY_KEYS}
    out["nc_m"] = {int(m): float(v) for m, v in report.nc_m.items()}
    out["c_m"] = {int(m): float(v) for m, v in report.c_m.items()}
    return out


def _epoch_row(row: dict) -> dict:
    """A history row without skorch's per-batch records and bookkeeping."""
    return {k: v for k, v in row.items() if k != "batches" and not k.endswith("_best")}


def _messages(caught) -> list[str]:
    """The distinct warnings, ``"Category: message"``, in the order first raised.

    Warnings that repeat with new figures every monitored epoch (NC1's conditioning guard)
    are kept once, with the figures of their last occurrence.
    """
    latest: dict[str, str] = {}
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        key = text.split(":")[1] if "ill-conditioned" in text else text
        latest[key] = text  # an existing key keeps its place
    return list(latest.values())
