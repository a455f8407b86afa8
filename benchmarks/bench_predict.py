"""Prediction throughput of each decision rule as the number of labels grows.

For each K, one network (MLP 64->256->256, PAL) is trained for one epoch on synthetic data
with label sets of size 1-3, once per rule with the same seed (identical networks), with
``precision="auto"`` (the default; the table says what it resolved to). Each rule's
``predict`` is timed against ``predict_proba`` on the same inputs, which runs the same
forward pass without a decision rule: the ratio is the rule's cost.

A second table gives the cost of batch invariance: ``predict_proba`` runs X in chunks of a
fixed size, the last one padded with zero rows, so a sample's scores do not depend on the
other samples of the call. It is timed against the same forward pass without padding (the
last chunk as it is), for calls of 1 row to all rows, on a network with the default
``batch_size`` (chunks of 512 rows).

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
from sklearn.utils.validation import validate_data

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc._inference import chunk_size

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


def unpadded_proba(clf, X):
    """``predict_proba`` without padding: chunks of the same size, the last one as it is."""
    module, size = clf.net_.module_.eval(), chunk_size(clf.batch_size)
    X = validate_data(clf, X, dtype=(np.float32, np.float64), reset=False)  # as predict does
    X = np.asarray(X, dtype=np.float32)
    out = []
    with torch.inference_mode():
        for start in range(0, len(X), size):
            logits, _ = module(torch.from_numpy(X[start : start + size]).to(clf.net_.device))
            out.append(torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64))
    return np.concatenate(out)


def invariance_cost(X, Y, args):
    clf = MLabNCClassifier(max_epochs=1, device=args.device, random_state=0).fit(X, Y)
    size = chunk_size(clf.batch_size)
    print(f"\nbatch invariance, default MLP, chunks of {size} rows, best of {args.repeats}\n")
    print("| rows per call | padded (invariant) µs/call | unpadded µs/call | cost |")
    print("|---:|---:|---:|---:|")
    rows = []
    for n in sorted({1, 10, 100, size + 1, len(X)}):
        part = X[:n]
        clf.predict_proba(part)  # warm-up
        padded = best_time(lambda part=part: clf.predict_proba(part), args.repeats)
        plain = best_time(lambda part=part: unpadded_proba(clf, part), args.repeats)
        rows.append({"n": n, "padded_s": padded, "unpadded_s": plain, "cost": padded / plain})
        print(f"| {n:,} | {1e6 * padded:,.0f} | {1e6 * plain:,.0f} | {padded / plain:.2f}x |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--n-samples", type=int, default=20000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", help="training precision")
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
    print(
        "| K | rule | precision_ | predict samples/s | predict_proba samples/s | rule overhead |"
    )
    print("|---:|---|---|---:|---:|---:|")
    for K in args.labels:
        X, Y = make_data(args.n_samples, args.n_features, K)
        for rule in RULES:
            clf = MLabNCClassifier(
                hidden_layer_sizes=(256, 256),
                max_epochs=1,
                batch_size=512,
                decision=rule,
                device=args.device,
                precision=args.precision,
                random_state=0,
            ).fit(X, Y)
            clf.predict(X[:100])  # warm-up
            t_predict = best_time(lambda clf=clf, X=X: clf.predict(X), args.repeats)
            t_proba = best_time(lambda clf=clf, X=X: clf.predict_proba(X), args.repeats)
            row = {
                "K": K,
                "rule": rule,
                "precision": clf.precision_,
                "predict_samples_per_s": args.n_samples / t_predict,
                "proba_samples_per_s": args.n_samples / t_proba,
                "overhead": t_predict / t_proba,
            }
            rows.append(row)
            print(
                f"| {K} | {rule} | {clf.precision_} | {row['predict_samples_per_s']:,.0f} | "
                f"{row['proba_samples_per_s']:,.0f} | {row['overhead']:.2f}x |",
                flush=True,
            )
    X, Y = make_data(args.n_samples, args.n_features, args.labels[0])
    invariance = invariance_cost(X, Y, args)
    if args.out:
        with open(args.out, "w") as fh:
            result = {"config": vars(args), "rows": rows, "invariance": invariance}
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
