"""What ``decision="auto"`` costs: the default fit against the same fit with a fixed rule.

For each data set, ``MLabNCClassifier(**settings)`` (the default ``decision="auto"``) and
``MLabNCClassifier(decision="cardinality", **settings)`` are fitted in alternation, and the
cost ratio is the median over pairs of (auto fit time) / (fixed fit time), so that both fits
of a pair see the same machine load: CPU time of the process (``time.process_time``, one
thread, so other processes on a shared machine inflate it little) and wall time. Data sets:

- ``yeast``: the MULAN training split (needs ``MLABNC_DATA_DIR``), standardised, defaults;
- ``wide``: a 60,000 x 64 synthetic set with 30 labels, defaults;
- ``labels-K``: a 20,000 x 128 synthetic set with ``K`` labels (about 5 a row), 5 epochs;
  the scaling curve runs ``K`` over ``--labels``.

With ``--quality`` it also fits the default estimator on the shared MULAN sets and
multi-label digits and reports the rule ``"auto"`` chose, its out-of-fold scores and the
test micro-F1, to compare the choice between versions. With ``--choice`` it fits the default
on a synthetic set (5,000 more rows held out for testing) twice: with the fold models'
step budget, and with the budget lifted (every row, as without a budget), and reports the
rule each chose, its out-of-fold scores and test micro-F1. Torch and BLAS run on one thread.

Examples::

    python benchmarks/bench_auto_cost.py --sets yeast wide labels-2000 --pairs 3
    python benchmarks/bench_auto_cost.py --sets --labels 50 200 500 1000 2000 --pairs 1
    python benchmarks/bench_auto_cost.py --sets --quality emotions yeast --seeds 0 1 2
    python benchmarks/bench_auto_cost.py --sets --choice wide labels-2000
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, label_ranking_average_precision_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_mlabnc import MLabNCClassifier, _selection
from sklearn_mlabnc.datasets import load_mulan, make_multilabel_digits


def synthetic(n: int, d: int, n_labels: int, seed: int = 0, per_row: float = 5.0):
    """``(X, Y)``: label frequencies falling as 1/(rank + 10), about ``per_row`` a row,
    features a noisy random embedding of each row's label set."""
    rng = np.random.default_rng(seed)
    weight = 1.0 / (np.arange(n_labels) + 10.0)
    p = np.minimum(0.9, per_row * weight / weight.sum()).astype(np.float32)
    Y = rng.random((n, n_labels), dtype=np.float32) < p
    W = rng.normal(size=(n_labels, d)).astype(np.float32)
    card = np.maximum(Y.sum(1, keepdims=True), 1).astype(np.float32)
    X = (Y.astype(np.float32) @ W) / np.sqrt(card) + rng.normal(size=(n, d)).astype(np.float32)
    return X.astype(np.float32), Y.astype(int)


def mulan(name: str):
    """Standardised ``(X_train, Y_train, X_test, Y_test)`` of a MULAN set (or digits)."""
    if name == "digits":
        Xtr, Ytr = make_multilabel_digits(subset="train", random_state=0, return_X_y=True)
        Xte, Yte = make_multilabel_digits(subset="test", random_state=1, return_X_y=True)
    else:
        path = Path(os.environ.get("MLABNC_DATA_DIR", ""))
        if not os.environ.get("MLABNC_DATA_DIR") or not (path / f"{name}-train.arff").exists():
            raise SystemExit(f"{name}: set MLABNC_DATA_DIR to the folder of the MULAN files")
        Xtr, Ytr = load_mulan(path / f"{name}-train.arff", return_X_y=True)
        Xte, Yte = load_mulan(path / f"{name}-test.arff", return_X_y=True)
    Xtr, Xte = np.asarray(Xtr, np.float64), np.asarray(Xte, np.float64)
    scaler = StandardScaler().fit(Xtr)
    as32 = lambda A: scaler.transform(A).astype(np.float32)  # noqa: E731
    return as32(Xtr), np.asarray(Ytr, int), as32(Xte), np.asarray(Yte, int)


def cost_set(name: str, extra_rows: int = 0):
    """``(X, Y, settings)`` of a cost data set (synthetic ones with ``extra_rows`` more)."""
    if name == "yeast":
        X, Y, _, _ = mulan("yeast")
        return X, Y, {}
    if name == "wide":
        X, Y = synthetic(60_000 + extra_rows, 64, 30)
        return X, Y, {}
    if name.startswith("labels-"):
        X, Y = synthetic(20_000 + extra_rows, 128, int(name.split("-")[1]))
        return X, Y, {"max_epochs": 5}
    raise SystemExit(f"unknown set {name!r}")


def timed_fit(X, Y, **params):
    """``(wall seconds, CPU seconds of this process, fitted model)``.

    The probability calibration is off unless ``params`` name it: under its default
    (``"fast"``) a fixed-rule fit trains the same fold models as ``"auto"`` for it, which
    would hide what choosing the rule costs (``--calibration fast`` measures that case).
    """
    params = {"calibration": "off", **params}
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLabNCClassifier(random_state=0, **params).fit(X, Y)
    return time.perf_counter() - start, time.process_time() - cpu, model


def cost(name: str, pairs: int, calibration: str = "off") -> dict:
    X, Y, settings = cost_set(name)
    settings = {**settings, "calibration": calibration}
    timed_fit(X[:500], Y[:500], decision="cardinality", max_epochs=1)  # warm-up, untimed
    ratios, cpu_ratios, auto_s, fixed_s = [], [], [], []
    for _ in range(pairs):
        t_auto, cpu_auto, model = timed_fit(X, Y, **settings)
        t_fixed, cpu_fixed, _ = timed_fit(X, Y, decision="cardinality", **settings)
        auto_s.append(cpu_auto)
        fixed_s.append(cpu_fixed)
        ratios.append(t_auto / t_fixed)
        cpu_ratios.append(cpu_auto / cpu_fixed)
    row = {
        "set": name,
        "shape": f"{X.shape[0]} x {X.shape[1]}, {Y.shape[1]} labels",
        "auto_cpu_s": round(float(np.median(auto_s)), 2),
        "fixed_cpu_s": round(float(np.median(fixed_s)), 2),
        "cpu_ratio": round(float(np.median(cpu_ratios)), 3),
        "cpu_ratios": [round(r, 3) for r in cpu_ratios],
        "wall_ratio": round(float(np.median(ratios)), 3),
        "wall_ratios": [round(r, 3) for r in ratios],
        "chosen": model.decision_,
        "calibration": calibration,
    }
    print(json.dumps(row), flush=True)
    return row


def quality(name: str, seed: int) -> dict:
    Xtr, Ytr, Xte, Yte = mulan(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLabNCClassifier(random_state=seed).fit(Xtr, Ytr)
    row = {
        "set": name,
        "seed": seed,
        "chosen": model.decision_,
        "oof": {k: round(v, 4) for k, v in model.decision_scores_.items()},
        "micro_f1": round(f1_score(Yte, model.predict(Xte), average="micro", zero_division=0), 4),
        "lrap": round(label_ranking_average_precision_score(Yte, model.predict_proba(Xte)), 4),
    }
    print(json.dumps(row), flush=True)
    return row


def choice(name: str) -> list:
    """The rule chosen with and without the fold models' budget, and its test micro-F1."""
    X, Y, settings = cost_set(name, extra_rows=5_000)
    Xtr, Ytr, Xte, Yte = X[:-5_000], Y[:-5_000], X[-5_000:], Y[-5_000:]
    rows = []
    for budget in (True, False):
        saved = _selection.SELECTION_ROWS
        if not budget:
            _selection.SELECTION_ROWS = len(Ytr)
        try:
            _, seconds, model = timed_fit(Xtr, Ytr, **settings)
        finally:
            _selection.SELECTION_ROWS = saved
        row = {
            "set": name,
            "budget": budget,
            "fit_cpu_s": round(seconds, 1),
            "chosen": model.decision_,
            "oof": {k: round(v, 4) for k, v in model.decision_scores_.items()},
            "micro_f1": round(f1_score(Yte, model.predict(Xte), average="micro"), 4),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["yeast", "wide", "labels-2000"])
    parser.add_argument("--labels", nargs="*", type=int, default=[])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--quality", nargs="*", default=[])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--choice", nargs="*", default=[])
    parser.add_argument(
        "--calibration",
        choices=["off", "fast", "full"],
        default="off",
        help="calibration of both fits of a pair (off: the cost of choosing the rule alone)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {"cost": [], "quality": [], "choice": []}
    with threadpool_limits(1):
        for name in args.sets + [f"labels-{k}" for k in args.labels]:
            results["cost"].append(cost(name, args.pairs, args.calibration))
        for name in args.quality:
            for seed in args.seeds:
                results["quality"].append(quality(name, seed))
        for name in args.choice:
            results["choice"].extend(choice(name))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
