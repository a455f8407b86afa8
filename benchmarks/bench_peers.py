"""Benchmark: MLabNCClassifier against the multi-label learners a user would pick.

Data (features standardised on the training split): MULAN ``emotions``, ``yeast`` and
``enron`` (the standard train/test splits), ``CAL500`` (5-fold ``KFold(shuffle=True,
random_state=0)``, scores averaged over the folds of a seed), multi-label digits
(``make_multilabel_digits(subset='train', random_state=0)`` / ``subset='test', random_state=1``)
and ``synthetic`` (``make_multilabel_classification(n_samples=1500, n_features=20,
n_classes=10, random_state=0)``, the first 1000 rows to train, the rest to test).

Models: ``ours`` (``MLabNCClassifier()`` defaults: ``decision="auto"``), ``ours:<rule>``
(defaults with a fixed ``decision``: ``cardinality`` was the default before ``"auto"``),
``ours:bce`` (defaults with ``loss="bce"``),
``mlp`` (``MLPClassifier(hidden_layer_sizes=(512, 512))``), ``rf`` / ``et`` (Random and
Extra trees, defaults), ``hgb`` (one ``HistGradientBoostingClassifier`` per label; a label
constant in training predicts that constant), ``mlknn`` (ML-kNN, ``k=10``, from
``scikit-multilearn-ng``) and ``boomer`` (``mlrl-boomer``'s ``BoomerClassifier``, defaults,
one thread). Tree ensembles, HGB and the MLP predict ``proba >= 0.5``.

Metrics: micro-/macro-/samples-F1 (``zero_division=0``), Hamming loss, subset accuracy, LRAP
on ``predict_proba`` (``lrap``) and, for ours, on ``decision_function`` (``lrap_df``), fit
time in seconds; calibration of ``predict_proba`` (per-label probabilities; tree ensembles,
HGB: the probability of class 1 of each label): per-label Brier score (``brier``), per-label
log-loss (``log_loss``, probabilities clipped to machine epsilon), pooled expected
calibration error over 10 bins (``ece``) and the mean number of labels per test row with a
probability of at least 0.5 (``n_at_half``; ``n_true`` is the truth). One JSON line per
(model, data set, fold, seed) is appended to ``--out``; ``--table`` prints the mean +- std
over seeds as a Markdown table (``--columns`` picks the metrics).

Install the peers with ``pip install "sklearn-mlabnc[bench]"`` and BOOMER separately with
``pip install --no-deps mlrl-boomer mlrl-common mlrl-util`` (its releases pin older
scikit-learn and NumPy, but run with current ones). BOOMER 0.12 crashes (double free)
next to torch and when a fitted model is freed: each of its fits runs in a fresh Python
process that never imports torch, and a crash before the result is printed is recorded as
an ``error`` row.

Usage::

    python benchmarks/bench_peers.py --seeds 0 1 2 --out /tmp/peers.jsonl
    python benchmarks/bench_peers.py --table /tmp/peers.jsonl
    python benchmarks/bench_peers.py --table /tmp/peers.jsonl --columns brier log_loss ece
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.metrics import accuracy_score, f1_score, hamming_loss
from sklearn.metrics import label_ranking_average_precision_score as lrap
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

# The MULAN splits: --data-dir, else the folder named by $MLABNC_DATA_DIR.
DEFAULT_DATA_DIR = os.environ.get("MLABNC_DATA_DIR")
DATASETS = ("emotions", "yeast", "CAL500", "enron", "digits", "synthetic")
MODELS = (
    "ours",
    "ours:bce",
    "ours:full",
    "ours:cardinality",
    "ours:threshold",
    "ours:per_label",
    "ours:prototype",
    "mlp",
    "rf",
    "et",
    "hgb",
    "mlknn",
    "boomer",
)
METRICS = ("micro_f1", "macro_f1", "samples_f1", "hamming", "subset_acc", "lrap", "fit_s")
CALIBRATION = ("brier", "log_loss", "ece", "lrap", "lrap_df", "n_at_half", "n_true")


def _scaled(Xtr, Ytr, Xte, Yte):
    scaler = StandardScaler().fit(Xtr)
    as_int = lambda Y: np.asarray(Y, dtype=np.int64)  # noqa: E731
    return dict(
        Xtr=scaler.transform(Xtr), Ytr=as_int(Ytr), Xte=scaler.transform(Xte), Yte=as_int(Yte)
    )


def load(name, data_dir):
    """The (train, test) splits of a data set: one, or CAL500's five folds."""
    from sklearn_mlabnc.datasets import load_mulan, make_multilabel_digits

    if name == "synthetic":
        from sklearn.datasets import make_multilabel_classification

        X, Y = make_multilabel_classification(
            n_samples=1500, n_features=20, n_classes=10, random_state=0
        )
        return [_scaled(X[:1000], Y[:1000], X[1000:], Y[1000:])]
    if name == "digits":
        Xtr, Ytr = make_multilabel_digits(subset="train", random_state=0, return_X_y=True)
        Xte, Yte = make_multilabel_digits(subset="test", random_state=1, return_X_y=True)
        return [_scaled(Xtr, Ytr, Xte, Yte)]
    if name == "CAL500":
        X, Y = load_mulan(os.path.join(data_dir, "CAL500.arff"), return_X_y=True)
        X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y)
        folds = KFold(5, shuffle=True, random_state=0).split(X)
        return [_scaled(X[tr], Y[tr], X[te], Y[te]) for tr, te in folds]
    Xtr, Ytr = load_mulan(os.path.join(data_dir, f"{name}-train.arff"), return_X_y=True)
    Xte, Yte = load_mulan(os.path.join(data_dir, f"{name}-test.arff"), return_X_y=True)
    return [_scaled(Xtr, Ytr, Xte, Yte)]


class OneVsRestHGB:
    """One HistGradientBoostingClassifier per label; constant labels predict the constant."""

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X, Y):
        self.models_ = [
            float(Y[0, k])
            if Y[:, k].min() == Y[:, k].max()
            else HistGradientBoostingClassifier(random_state=self.seed).fit(X, Y[:, k])
            for k in range(Y.shape[1])
        ]
        return self

    def predict_proba(self, X):
        columns = [
            np.full(len(X), m) if isinstance(m, float) else m.predict_proba(X)[:, 1]
            for m in self.models_
        ]
        return np.stack(columns, axis=1)


def _forest_proba(forest, X):
    """P(label = 1) per label from a multi-output forest (0 for labels never positive)."""
    columns = []
    for proba, classes in zip(forest.predict_proba(X), forest.classes_, strict=True):
        columns.append(proba[:, list(classes).index(1)] if 1 in classes else np.zeros(len(X)))
    return np.stack(columns, axis=1)


def make(model, seed):
    if model.startswith("ours"):
        from sklearn_mlabnc import MLabNCClassifier

        variant = model.partition(":")[2]
        if variant == "bce":
            return MLabNCClassifier(loss="bce", device="cpu", random_state=seed)
        if variant == "full":  # the better-calibrated probabilities, two more fits' cost
            return MLabNCClassifier(calibration="full", device="cpu", random_state=seed)
        decision = variant or "auto"
        return MLabNCClassifier(decision=decision, device="cpu", random_state=seed)
    if model == "mlp":
        return MLPClassifier(hidden_layer_sizes=(512, 512), random_state=seed)
    if model == "rf":
        return RandomForestClassifier(random_state=seed, n_jobs=1)
    if model == "et":
        return ExtraTreesClassifier(random_state=seed, n_jobs=1)
    if model == "hgb":
        return OneVsRestHGB(seed)
    if model == "mlknn":
        from skmultilearn.adapt import MLkNN

        return MLkNN(k=10)
    from mlrl.boosting import BoomerClassifier  # model == "boomer"

    serial = dict.fromkeys(
        ("parallel_rule_refinement", "parallel_statistic_update", "parallel_prediction"),
        "false",
    )
    return BoomerClassifier(random_state=seed + 1, **serial)  # it needs random_state >= 1


def _dense(a):
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a)


_KEEP = []


def evaluate(model, d, seed):
    est = make(model, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est.fit(d["Xtr"], d["Ytr"])
        fit_s = time.perf_counter() - start
        if model in ("rf", "et", "hgb"):
            proba = _forest_proba(est, d["Xte"]) if model != "hgb" else est.predict_proba(d["Xte"])
            pred = (proba >= 0.5).astype(int)
        else:
            pred, proba = _dense(est.predict(d["Xte"])), _dense(est.predict_proba(d["Xte"]))
        scores = est.decision_function(d["Xte"]) if model.startswith("ours") else None
    Y, pred = d["Yte"], pred.astype(int)
    row = dict(
        micro_f1=f1_score(Y, pred, average="micro", zero_division=0),
        macro_f1=f1_score(Y, pred, average="macro", zero_division=0),
        samples_f1=f1_score(Y, pred, average="samples", zero_division=0),
        hamming=hamming_loss(Y, pred),
        subset_acc=accuracy_score(Y, pred),
        lrap=lrap(Y, proba),
        fit_s=fit_s,
        **calibration(Y, np.clip(np.asarray(proba, dtype=np.float64), 0, 1)),
        lrap_df=np.nan if scores is None else lrap(Y, scores),
    )
    if model.startswith("ours"):
        row["decision_"] = est.decision_
    _KEEP.append(est)  # freeing a fitted BOOMER model can crash: keep it to the exit
    return {k: v if isinstance(v, str) else float(v) for k, v in row.items()}


def calibration(Y, proba) -> dict:
    """Calibration metrics of per-label probabilities (see the module docstring)."""
    # The metrics' module is loaded from its file: importing the package would load torch
    # into the BOOMER worker (see the module docstring).
    path = os.path.join(os.path.dirname(__file__), "..", "sklearn_mlabnc")
    spec = importlib.util.spec_from_file_location(
        "calibration_scoring", os.path.join(path, "_calibration_scoring.py")
    )
    metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(metrics)
    return dict(
        brier=metrics.per_label_brier_score(Y, proba),
        log_loss=metrics.per_label_log_loss(Y, proba),
        ece=metrics.expected_calibration_error(Y, proba),
        n_at_half=(proba >= 0.5).sum(axis=1).mean(),
        n_true=Y.sum(axis=1).mean(),
    )


def warm_up():
    """An untimed first fit: torch's one-off start-up costs would otherwise land on a model."""
    from sklearn_mlabnc import MLabNCClassifier

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 4)), np.eye(3, dtype=int)[[0, 1, 2] * 20]
    MLabNCClassifier(max_epochs=2, device="cpu").fit(X, Y)


def run(models, names, seeds, data_dir, out):
    if any(model.startswith("ours") for model in models):
        warm_up()
    for name in names:
        splits = load(name, data_dir)
        for model in models:
            for seed in seeds:
                for fold, d in enumerate(splits):
                    if model != "boomer":
                        _record(out, model, name, fold, seed, evaluate(model, d, seed))
                        continue
                    _record(out, model, name, fold, seed, _in_subprocess(model, d, seed))


def _in_subprocess(model, d, seed):
    """``evaluate`` in a fresh interpreter that never loads torch (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, **d)
        command = [sys.executable, __file__, "--worker", model, path, str(seed)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-200:]}"}
    return json.loads(lines[-1])


#: (decision, calibration) settings timed by ``--fit-time``; the first is the baseline.
FIT_SETTINGS = (
    ("cardinality", "off"),
    ("auto", "off"),
    ("auto", "fast"),
    ("auto", "full"),
    ("cardinality", "full"),
)


def fit_times(names, data_dir, repeats):
    """Median fit seconds of each of :data:`FIT_SETTINGS` and its ratio to the first.

    The settings alternate, seed after seed, so that a busy machine slows all alike.
    ``("auto", "fast")`` is the default; ``("auto", "off")`` against the baseline is the
    cost of choosing the decision rule, the others the cost of calibration.
    """
    from sklearn_mlabnc import MLabNCClassifier

    for name in names:
        d = load(name, data_dir)[0]
        times = collections.defaultdict(list)
        for seed in range(repeats):
            for decision, calibration in FIT_SETTINGS:
                est = MLabNCClassifier(
                    decision=decision, calibration=calibration, device="cpu", random_state=seed
                )
                start = time.perf_counter()
                est.fit(d["Xtr"], d["Ytr"])
                times[decision, calibration].append(time.perf_counter() - start)
        base = np.median(times[FIT_SETTINGS[0]])
        cells = [
            f"{decision}/{calibration} {np.median(times[decision, calibration]):.2f} s "
            f"({np.median(times[decision, calibration]) / base:.2f}x)"
            for decision, calibration in FIT_SETTINGS
        ]
        print(f"{name}: " + ", ".join(cells), flush=True)


def _record(out, model, name, fold, seed, row):
    row = dict(model=model, dataset=name, fold=fold, seed=seed, **row)
    with open(out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def table(path, metrics=METRICS):
    """Markdown table: mean +- std over seeds (CAL500: fold means first) per data set."""
    rows = [json.loads(line) for line in open(path)]
    groups = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        if "error" in r:  # a crashed fit: no scores
            continue
        groups[(r["dataset"], r["model"])][r["seed"]].append(r)
    lines = ["| data | model | seeds | " + " | ".join(metrics) + " |"]
    lines.append("|" + "---|" * (len(metrics) + 3))
    for name in DATASETS:
        for model in MODELS:
            seeds = groups.get((name, model))
            if not seeds:
                continue
            cells = []
            for m in metrics:
                per_seed = [np.mean([r.get(m, np.nan) for r in runs]) for runs in seeds.values()]
                digits = {"fit_s": 1, "brier": 4, "log_loss": 4, "ece": 4}.get(m, 3)
                cells.append(f"{np.mean(per_seed):.{digits}f} ± {np.std(per_seed):.{digits}f}")
            lines.append(f"| {name} | {model} | {len(seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="default: $MLABNC_DATA_DIR")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="bench_peers.jsonl", help="append JSON lines here")
    p.add_argument("--table", metavar="JSONL", help="print the table of a results file")
    p.add_argument(
        "--columns", nargs="+", default=list(METRICS), help="the table's metrics, e.g. brier"
    )
    p.add_argument("--fit-time", type=int, metavar="REPEATS", help="only time fits (FIT_SETTINGS)")
    p.add_argument("--worker", nargs=3, metavar=("MODEL", "NPZ", "SEED"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:  # one evaluation, printed as JSON (crashes at exit are harmless)
        model, path, seed = args.worker
        print(json.dumps(evaluate(model, dict(np.load(path)), int(seed))), flush=True)
        return
    if args.table:
        print(table(args.table, args.columns))
        return
    mulan = {"emotions", "yeast", "CAL500", "enron"} & set(args.datasets)
    if mulan and not args.data_dir:
        p.error(f"{sorted(mulan)} need the MULAN files: set MLABNC_DATA_DIR or --data-dir")
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        if args.fit_time:
            warm_up()
            fit_times(args.datasets, args.data_dir, args.fit_time)
            return
        run(args.models, args.datasets, args.seeds, args.data_dir, args.out)


if __name__ == "__main__":
    main()
