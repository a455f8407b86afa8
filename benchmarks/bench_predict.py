"""Prediction throughput of each decision rule as the number of labels grows.

For each K, one network (MLP 64->256->256, PAL) is trained for one epoch on synthetic data
with label sets of size 1-3, once per rule with the same seed (identical networks). Each
rule's ``predict`` is timed against ``predict_proba`` on the same inputs, which runs the
same forward pass without a decision rule: the ratio is the rule's cost.

Examples::

    python benchmarks/bench_predict.py --quick
    python benchmarks/bench_predict.py --labels 10 100 1000 --n-samples 20000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from sklearn_mlabnc import MLabNCClassifier

RULES = ("threshold", "cardinality", "prototype")


def make_data(n_samples, n_features, n_labels, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.zeros((n_samples, n_labels), dtype=np.int8)
    sizes = rng.choice([1, 2, 3], size=n_samples, p=[0.5, 0.3, 0.2])
    for size in (1, 2, 3):
        rows = np.flatnonzero(sizes == size)
        labels = np.argsort(rng.random((len(rows), n_labels)), axis=1)[:, :size]
        Y[rows[:, None], labels] = 1
    atoms = rng.normal(size=(n_labels, n_features)).astype(np.float32)
    X = Y.astype(np.float32) @ atoms + rng.normal(size=(n_samples, n_features)).astype(np.float32)
    return X, Y


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--n-samples", type=int, default=20000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="K in {10, 100}, 5,000 samples")
    parser.add_argument("--out", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.labels, args.n_samples = [10, 100], 5000
    rows = []
    print(
        f"{args.n_samples} samples, device {args.device}, torch threads "
        f"{torch.get_num_threads()}, best of {args.repeats}\n"
    )
    print("| K | rule | predict samples/s | predict_proba samples/s | rule overhead |")
    print("|---:|---|---:|---:|---:|")
    for K in args.labels:
        X, Y = make_data(args.n_samples, args.n_features, K)
        for rule in RULES:
            clf = MLabNCClassifier(
                hidden_layer_sizes=(256, 256),
                max_epochs=1,
                batch_size=512,
                decision=rule,
                device=args.device,
                random_state=0,
            ).fit(X, Y)
            clf.predict(X[:100])  # warm-up
            t_predict = best_time(lambda clf=clf, X=X: clf.predict(X), args.repeats)
            t_proba = best_time(lambda clf=clf, X=X: clf.predict_proba(X), args.repeats)
            row = {
                "K": K,
                "rule": rule,
                "predict_samples_per_s": args.n_samples / t_predict,
                "proba_samples_per_s": args.n_samples / t_proba,
                "overhead": t_predict / t_proba,
            }
            rows.append(row)
            print(
                f"| {K} | {rule} | {row['predict_samples_per_s']:,.0f} | "
                f"{row['proba_samples_per_s']:,.0f} | {row['overhead']:.2f}x |",
                flush=True,
            )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"config": vars(args), "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
