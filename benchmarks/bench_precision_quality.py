"""Benchmark: does ``precision="auto"`` (bfloat16 training) cost quality against float32?

Every model uses the estimator's defaults apart from ``precision`` and ``random_state``; both
precisions are fitted with the same seeds on the same splits (features standardised by a
StandardScaler fitted on the training split):

- MULAN ``emotions`` and ``yeast``: the standard train/test ARFF splits;
- MULAN ``CAL500``: 5-fold ``KFold(5, shuffle=True, random_state=0)``, the seed's score
  being the mean over the folds;
- multi-label digits: ``make_multilabel_digits(subset='train', random_state=0)`` against
  ``subset='test', random_state=1`` (as in ``bench_quality.py``).

For each data set and metric (micro-F1 of ``predict``, LRAP of ``predict_proba``) it reports
the mean and standard deviation over the seeds of both precisions, and whether
``|mean(auto) - mean(float32)| <= std(float32)`` (the criterion for making ``auto`` the
default). It also records what ``auto`` resolved to (``precision_``): on a machine without
bfloat16 units both columns are float32 and the comparison is void.

Usage::

    python benchmarks/bench_precision_quality.py --out /tmp/precision_quality.json
    python benchmarks/bench_precision_quality.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from sklearn.metrics import f1_score, label_ranking_average_precision_score
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.datasets import load_mulan, make_multilabel_digits

# The MULAN splits: --data-dir, else the folder named by $MLABNC_DATA_DIR.
DEFAULT_DATA_DIR = os.environ.get("MLABNC_DATA_DIR")
PRECISIONS = ("float32", "auto")
METRICS = ("micro_f1", "lrap")


def splits(name, data_dir):
    """The (X_train, Y_train, X_test, Y_test) splits of a data set, standardised."""
    if name == "digits":
        parts = [
            make_multilabel_digits(subset="train", random_state=0, return_X_y=True),
            make_multilabel_digits(subset="test", random_state=1, return_X_y=True),
        ]
        raw = [(*parts[0], *parts[1])]
    elif name == "CAL500":
        X, Y = load_mulan(os.path.join(data_dir, "CAL500.arff"), return_X_y=True)
        X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y)
        folds = KFold(5, shuffle=True, random_state=0).split(X)
        raw = [(X[tr], Y[tr], X[te], Y[te]) for tr, te in folds]
    else:
        train = load_mulan(os.path.join(data_dir, f"{name}-train.arff"), return_X_y=True)
        test = load_mulan(os.path.join(data_dir, f"{name}-test.arff"), return_X_y=True)
        raw = [(*train, *test)]
    out = []
    for Xtr, Ytr, Xte, Yte in raw:
        scaler = StandardScaler().fit(Xtr)
        out.append(
            (
                scaler.transform(Xtr),
                np.asarray(Ytr, dtype=np.int64),
                scaler.transform(Xte),
                np.asarray(Yte, dtype=np.int64),
            )
        )
    return out


def evaluate(folds, precision, seed, extra):
    scores, resolved, seconds = {m: [] for m in METRICS}, set(), 0.0
    for Xtr, Ytr, Xte, Yte in folds:
        clf = MLabNCClassifier(precision=precision, random_state=seed, device="cpu", **extra)
        start = time.perf_counter()
        clf.fit(Xtr, Ytr)
        seconds += time.perf_counter() - start
        resolved.add(clf.precision_)
        scores["micro_f1"].append(
            f1_score(Yte, clf.predict(Xte), average="micro", zero_division=0)
        )
        scores["lrap"].append(label_ranking_average_precision_score(Yte, clf.predict_proba(Xte)))
    return {m: float(np.mean(v)) for m, v in scores.items()}, sorted(resolved), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["emotions", "yeast", "CAL500", "digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 5 epochs: a smoke run")
    parser.add_argument("--out", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    extra = {}
    if args.quick:
        args.seeds, extra = args.seeds[:2], {"max_epochs": 5}
    torch.set_num_threads(args.threads)
    results = {}
    with threadpool_limits(args.threads):
        for name in args.datasets:
            folds = splits(name, args.data_dir)
            per = {}
            for precision in PRECISIONS:
                runs = [evaluate(folds, precision, seed, extra) for seed in args.seeds]
                per[precision] = {
                    "scores": [r[0] for r in runs],
                    "resolved": sorted({p for r in runs for p in r[1]}),
                    "fit_seconds": float(sum(r[2] for r in runs)),
                }
                print(name, precision, per[precision]["resolved"], flush=True)
            results[name] = per
    print(
        f"\n{len(args.seeds)} seeds, torch threads {args.threads}, "
        f"{platform.processor() or platform.machine()}; auto resolved to "
        f"{sorted({p for r in results.values() for p in r['auto']['resolved']})}\n"
    )
    print(
        "| data set | metric | float32 mean ± std | auto mean ± std | difference "
        "| within one std |"
    )
    print("|---|---|---:|---:|---:|---|")
    verdict = True
    for name, per in results.items():
        for metric in METRICS:
            f32 = np.array([s[metric] for s in per["float32"]["scores"]])
            auto = np.array([s[metric] for s in per["auto"]["scores"]])
            diff = auto.mean() - f32.mean()
            ok = abs(diff) <= f32.std()
            verdict &= bool(ok)
            per.setdefault("summary", {})[metric] = {
                "float32": [float(f32.mean()), float(f32.std())],
                "auto": [float(auto.mean()), float(auto.std())],
                "within_one_std": bool(ok),
            }
            print(
                f"| {name} | {metric} | {f32.mean():.4f} ± {f32.std():.4f} | "
                f"{auto.mean():.4f} ± {auto.std():.4f} | {diff:+.4f} | "
                f"{'yes' if ok else 'no'} |"
            )
    print(f"\nall within one seed std: {verdict}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"config": vars(args), "results": results, "verdict": verdict}, fh, indent=2)


if __name__ == "__main__":
    main()
