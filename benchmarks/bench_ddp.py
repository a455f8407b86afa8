"""Data-parallel training throughput: MLabNCClassifier(strategy="ddp") on N processes vs one.

Run it once in one process (``strategy="single"``) and once under ``torchrun`` with N
processes (``strategy="ddp"``, one GPU each with ``--device cuda``); each run fits the same
MLP (``MLP`` without BatchNorm, so the two runs train the same model up to rounding) on the
same data with the same global batch size, after a one-epoch warm-up fit, and reports
training samples per second (``n_samples * epochs / fit time``; the fit includes the
decision rule's pass over the training data). Rank 0 writes the JSON; given
``--baseline`` (the one-process JSON) it adds the speed-up and the largest parameter
difference from the one-process model.

Examples::

    python benchmarks/bench_ddp.py --device cuda --out one.json
    torchrun --nproc_per_node 2 benchmarks/bench_ddp.py --device cuda --baseline one.json \
        --out two.json
    # a CPU dry run with gloo
    python benchmarks/bench_ddp.py --quick --out one.json
    OMP_NUM_THREADS=1 torchrun --nproc_per_node 2 benchmarks/bench_ddp.py --quick \
        --baseline one.json --out two.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import numpy as np
import torch

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.backbones import MLP


def make_data(n_samples, n_features, n_labels, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.zeros((n_samples, n_labels), dtype=np.float32)
    Y[np.arange(n_samples), rng.integers(n_labels, size=n_samples)] = 1
    pairs = np.flatnonzero(rng.random(n_samples) < 0.3)
    Y[pairs, rng.integers(n_labels, size=pairs.size)] = 1
    X = Y @ rng.normal(size=(n_labels, n_features)) + rng.normal(size=(n_samples, n_features))
    return X.astype(np.float32), Y


def fit(X, Y, args, strategy, epochs):
    clf = MLabNCClassifier(
        functools.partial(MLP, hidden_layer_sizes=tuple(args.hidden), batch_norm=False),
        optimizer="sgd",
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=epochs,
        precision=args.precision,
        device=args.device,
        strategy=strategy,
        random_state=0,
    )
    if torch.cuda.is_available() and args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    clf.fit(X, Y)
    if torch.cuda.is_available() and args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return clf, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200000)
    parser.add_argument("--n-features", type=int, default=256)
    parser.add_argument("--n-labels", type=int, default=20)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024, 512])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--baseline", help="the one-process run's JSON, for the speed-up")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--out", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.n_features, args.hidden, args.epochs = 8192, 32, [64], 2
    strategy = "ddp" if "WORLD_SIZE" in os.environ else "single"
    world = int(os.environ.get("WORLD_SIZE", 1))
    X, Y = make_data(args.n_samples, args.n_features, args.n_labels)
    fit(X, Y, args, strategy, 1)  # warm-up: CUDA context, kernels, process group
    clf, seconds = fit(X, Y, args, strategy, args.epochs)
    rank = int(os.environ.get("RANK", 0))
    params = {k: v.cpu().numpy() for k, v in clf.net_.module_.state_dict().items()}
    result = {
        "strategy": strategy,
        "processes": world,
        "device": args.device,
        "n_samples": args.n_samples,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seconds": seconds,
        "samples_per_s": args.n_samples * args.epochs / seconds,
        "final_train_loss": clf.history_[-1]["train_loss"],
    }
    if args.baseline and os.path.exists(args.baseline):
        with open(args.baseline) as file:
            baseline = json.load(file)
        result["speedup"] = result["samples_per_s"] / baseline["samples_per_s"]
        saved = args.baseline + ".npz"
        if os.path.exists(saved):
            reference = np.load(saved)
            result["max_param_difference"] = max(
                float(np.abs(reference[k] - params[k]).max()) for k in params
            )
    if rank == 0:
        print(json.dumps(result, indent=1))
        if args.out:
            with open(args.out, "w") as file:
                json.dump(result, file, indent=1)
            if strategy == "single":  # the reference for a data-parallel run's difference
                np.savez(args.out + ".npz", **params)


if __name__ == "__main__":
    main()
