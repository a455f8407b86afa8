"""Time to quality on the CPU: wall time for MLabNCClassifier and MLPClassifier to reach a
common test micro-F1, on multi-label digits and on the MULAN ``yeast`` split.

Each contender trains as a user would run it, and its test micro-F1 is recorded after every
epoch against the training wall time spent so far (evaluation time excluded):

- ``MLabNCClassifier()``: the library defaults (40 epochs, cosine schedule, the decision
  rule chosen from out-of-fold scores, ``decision="auto"``). A callback snapshots the
  network after each epoch; after ``fit`` each snapshot is loaded back and scored with the
  estimator's own ``predict``, so every point is exactly the model a user would have had
  at that epoch of the default run.
- ``MLPClassifier(hidden_layer_sizes=...)``: scikit-learn's MLP with its defaults (Adam,
  lr 1e-3, batch 200), trained one epoch per ``partial_fit`` call (the same loop as ``fit``)
  and stopped by ``fit``'s own rule (training loss not improving by ``tol`` for
  ``n_iter_no_change`` epochs, at most ``max_iter`` epochs).

- ``MLabNCClassifier(max_epochs=E)`` for each ``--short-epochs E``: a shorter cosine
  schedule, which trades final quality for time.

"best" is the best test micro-F1 along the run (as if training had been stopped at the
right epoch by an oracle), "final" the micro-F1 of the model the run ends with.
The target level of a data set is the lower of the best micro-F1 (median over seeds) of
``MLabNCClassifier()`` and the MLPs, so each of them reaches it; the table gives the median
time to reach 90 %, 95 % and 100 % of it ("-" where most seeds never do) and each
contender's time relative to ``MLabNCClassifier()``. Features are standardised on the
training split; torch and BLAS are limited to ``--threads`` threads.

Examples::

    python benchmarks/bench_time_to_quality.py --quick
    python benchmarks/bench_time_to_quality.py --seeds 0 1 2 --out ttq.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.datasets import load_mulan, make_multilabel_digits

FRACTIONS = (0.90, 0.95, 1.00)


def load(name, data_dir):
    if name == "digits":
        Xtr, Ytr = make_multilabel_digits(subset="train", random_state=0, return_X_y=True)
        Xte, Yte = make_multilabel_digits(subset="test", random_state=1, return_X_y=True)
    else:
        path = Path(data_dir)
        if not (path / f"{name}-train.arff").exists():
            raise SystemExit(
                f"{path / name}-train.arff not found: pass --data-dir or set MLABNC_DATA_DIR"
            )
        Xtr, Ytr = load_mulan(path / f"{name}-train.arff", return_X_y=True)
        Xte, Yte = load_mulan(path / f"{name}-test.arff", return_X_y=True)
    scaler = StandardScaler().fit(Xtr)
    return (
        scaler.transform(Xtr).astype(np.float32),
        np.asarray(Ytr, dtype=int),
        scaler.transform(Xte).astype(np.float32),
        np.asarray(Yte, dtype=int),
    )


class EpochSnapshots(Callback):
    """Keeps a copy of the network after every epoch and the training time up to then.

    The recorded attributes end in ``_``, so skorch leaves them out of ``get_params`` and
    the estimator stays clonable (``decision="auto"`` clones it for its fold models).
    """

    def on_train_begin(self, net, **kwargs):
        self.states_, self.seconds_ = [], []
        self.start_, self.paused_ = time.perf_counter(), 0.0

    def on_epoch_end(self, net, **kwargs):
        now = time.perf_counter()
        self.seconds_.append(now - self.start_ - self.paused_)
        self.states_.append(copy.deepcopy(net.module_.state_dict()))
        self.paused_ += time.perf_counter() - now


def curve_mlabnc(Xtr, Ytr, Xte, Yte, seed, max_epochs):
    snapshots = EpochSnapshots()
    clf = MLabNCClassifier(max_epochs=max_epochs, callbacks=[snapshots], random_state=seed)
    start = time.perf_counter()
    clf.fit(Xtr, Ytr)
    total = time.perf_counter() - start - snapshots.paused_
    final = f1_score(Yte, clf.predict(Xte), average="micro", zero_division=0)
    scores = []
    for state in snapshots.states_:
        clf.net_.module_.load_state_dict(state)
        scores.append(f1_score(Yte, clf.predict(Xte), average="micro", zero_division=0))
    # The last snapshot is the fitted model: the curve ends where the estimator does.
    assert scores[-1] == final, (scores[-1], final)
    seconds = snapshots.seconds_
    seconds[-1] = total  # include the end of fit (the decision rule's fit)
    return seconds, scores


def curve_mlp(Xtr, Ytr, Xte, Yte, seed, hidden, max_iter):
    mlp = MLPClassifier(hidden_layer_sizes=hidden, random_state=seed)
    seconds, scores, elapsed = [], [], 0.0
    best_loss, stall = np.inf, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(max_iter):
            start = time.perf_counter()
            mlp.partial_fit(Xtr, Ytr, classes=np.arange(Ytr.shape[1]))
            elapsed += time.perf_counter() - start
            seconds.append(elapsed)
            scores.append(f1_score(Yte, mlp.predict(Xte), average="micro", zero_division=0))
            # fit's stopping rule (MLPClassifier._update_no_improvement_count)
            if mlp.loss_ > best_loss - mlp.tol:
                stall += 1
            else:
                stall = 0
            best_loss = min(best_loss, mlp.loss_)
            if stall > mlp.n_iter_no_change:
                break
    return seconds, scores


def time_to(level, seconds, scores):
    for t, score in zip(seconds, scores, strict=True):
        if score >= level:
            return t
    return np.inf


def _seconds(value):
    return "-" if np.isinf(value) else f"{value:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "yeast"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mlp", nargs="+", default=["100", "512,512"], help="hidden sizes")
    parser.add_argument("--max-epochs", type=int, default=40, help="MLabNCClassifier epochs")
    parser.add_argument("--short-epochs", type=int, nargs="*", default=[10])
    parser.add_argument("--max-iter", type=int, default=200, help="MLPClassifier epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=os.environ.get("MLABNC_DATA_DIR", "."))
    parser.add_argument("--quick", action="store_true", help="one seed, digits, short runs")
    parser.add_argument("--out", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds, args.mlp = ["digits"], [0], ["100"]
        args.max_epochs, args.max_iter, args.short_epochs = 10, 30, [3]
    torch.set_num_threads(args.threads)
    contenders = {
        "MLabNCClassifier()": lambda data, seed: curve_mlabnc(*data, seed, args.max_epochs)
    }
    for h in args.mlp:
        hidden = tuple(int(w) for w in h.split(","))
        contenders[f"MLPClassifier({h})"] = lambda data, seed, hidden=hidden: curve_mlp(
            *data, seed, hidden, args.max_iter
        )
    sets_target = list(contenders)
    for epochs in args.short_epochs:
        contenders[f"MLabNCClassifier(max_epochs={epochs})"] = lambda data, seed, epochs=epochs: (
            curve_mlabnc(*data, seed, epochs)
        )

    results = {}
    print(
        f"CPU ({platform.processor() or platform.machine()}), {args.threads} thread(s), "
        f"seeds {args.seeds}; times are training wall seconds (median over seeds)\n"
    )
    print(
        "| data | target micro-F1 | contender | best micro-F1 | final micro-F1 | "
        + " | ".join(f"time to {f:.0%}" for f in FRACTIONS)
        + " | full run (s) | vs MLabNC at 100% |"
    )
    print("|---|---:|---|---:|---:|" + "---:|" * len(FRACTIONS) + "---:|---:|")
    for name in args.datasets:
        data = load(name, args.data_dir)
        curves = {c: [] for c in contenders}
        with threadpool_limits(args.threads):
            small = tuple(part[:256] for part in data)
            curve_mlabnc(*small, 0, 1)  # warm-up: first-call costs of torch and sklearn
            curve_mlp(*small, 0, (8,), 1)
            for seed in args.seeds:
                for label, run in contenders.items():
                    curves[label].append(run(data, seed))
        best = {c: float(np.median([max(s) for _, s in runs])) for c, runs in curves.items()}
        target = min(best[c] for c in sets_target)
        rows = {}
        for c, runs in curves.items():
            times = {
                f: float(np.median([time_to(f * target, t, s) for t, s in runs]))
                for f in FRACTIONS
            }
            rows[c] = {
                "best_micro_f1": best[c],
                "final_micro_f1": float(np.median([s[-1] for _, s in runs])),
                "time_to": times,
                "full_run_s": float(np.median([t[-1] for t, _ in runs])),
                "epochs": [len(t) for t, _ in runs],
                "curves": [{"seconds": t, "micro_f1": s} for t, s in runs],
            }
        reference = rows["MLabNCClassifier()"]["time_to"][1.0]
        for c, row in rows.items():
            cells = " | ".join(_seconds(row["time_to"][f]) for f in FRACTIONS)
            ratio = row["time_to"][1.0] / reference
            print(
                f"| {name} | {target:.3f} | {c} | {row['best_micro_f1']:.3f} | "
                f"{row['final_micro_f1']:.3f} | {cells} | "
                f"{row['full_run_s']:.2f} | {'-' if np.isinf(ratio) else f'{ratio:.2f}x'} |"
            )
        results[name] = {"target": target, "rows": rows}
    if args.out:
        with open(args.out, "w") as fh:  # a level never reached is null, not Infinity
            text = json.dumps({"config": vars(args), "results": results}, indent=2)
            fh.write(text.replace("Infinity", "null"))


if __name__ == "__main__":
    main()
