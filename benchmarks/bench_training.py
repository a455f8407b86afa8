"""Training throughput: MLabNCClassifier vs a hand-written loop vs skorch's default path.

All contenders train the same network (``sklearn_mlabnc.backbones.MLP`` + a linear head) with
the same loss (PAL), optimizer (SGD, momentum 0.9, weight decay 5e-4), batch size and data, in
one process, interleaved over ``--repeats`` rounds; the best round of each is reported and
every figure is also given as a ratio to the hand-written loop.

- ``hand-written``: data resident on the device, batches sliced from a random permutation;
  in float32 (the baseline every ratio refers to) and with the forward pass under bfloat16
  autocast (``hand-written loop bf16``, the loss computed in float32 as the library does).
- ``MLabNCClassifier``: ``fit`` end to end (validation, net construction, training, and the
  decision rule's pass over the training data) with ``decision="cardinality"``: this
  benchmark measures training throughput; ``decision="auto"`` adds short out-of-fold
  models to choose the rule (about 0.5x a fit, see ``bench_peers.py --fit-time``). Timed
  with ``precision="float32"`` and with the default ``precision="auto"`` (the row names
  what it resolved to: bfloat16 on CPUs with AMX or AVX-512 BF16 and on GPUs of compute
  capability >= 8.0). With ``--compile`` also with ``compile=True`` (its first fit, which
  compiles, is the warm-up); with ``--large-batch B`` also at batch size ``B`` (a
  different optimisation trajectory: a throughput figure only); both of these at the
  default precision.
- ``skorch default``: ``skorch.NeuralNet`` with its default ``Dataset``/``DataLoader``.
- ``sklearn MLPClassifier``: scikit-learn's own MLP (one-vs-all BCE, CPU only, no batch norm).

Examples::

    python benchmarks/bench_training.py --quick
    python benchmarks/bench_training.py --device cuda --n-samples 200000 --epochs 5
    # per-step overhead: a network so small that the step is all Python and kernel launches
    python benchmarks/bench_training.py --n-features 16 --hidden 16 --batch-size 16 \
        --n-samples 16000 --epochs 1 --threads 1 --skip-sklearn --repeats 7
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings

import numpy as np
import torch
from torch import nn

from sklearn_mlabnc import MLabNCClassifier, PickAllLabelLoss
from sklearn_mlabnc._precision import resolve_precision
from sklearn_mlabnc.backbones import MLP


def make_data(n_samples, n_features, n_labels, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.zeros((n_samples, n_labels), dtype=np.float32)
    first = rng.integers(n_labels, size=n_samples)
    second = rng.integers(n_labels, size=n_samples)
    Y[np.arange(n_samples), first] = 1
    pairs = rng.random(n_samples) < 0.3
    Y[np.flatnonzero(pairs), second[pairs]] = 1
    X = Y @ rng.normal(size=(n_labels, n_features)) + rng.normal(size=(n_samples, n_features))
    return X.astype(np.float32), Y


class Network(nn.Module):
    def __init__(self, n_features, hidden, n_labels):
        super().__init__()
        self.backbone = MLP(n_features, hidden)
        self.head = nn.Linear(self.backbone.n_outputs, n_labels)

    def forward(self, X):
        features = self.backbone(X)
        return self.head(features), features


class _PALOnLogits(nn.Module):
    def forward(self, outputs, target):
        return PickAllLabelLoss()(outputs[0], target)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_written(X, Y, args, device, autocast_dtype=None):
    torch.manual_seed(0)
    net = Network(X.shape[1], args.hidden, Y.shape[1]).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    loss_fn = PickAllLabelLoss()
    Xd, Yd = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(Xd), device=device)
        for i in range(0, len(Xd), args.batch_size):
            idx = order[i : i + args.batch_size]
            if autocast_dtype is None:
                logits, _ = net(Xd[idx])
            else:
                with torch.autocast(device_type=device.type, dtype=autocast_dtype):
                    logits, _ = net(Xd[idx])
            loss = loss_fn(logits.float(), Yd[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)
    return time.perf_counter() - start


def library(X, Y, args, device, precision="auto", compile=False, batch_size=None):
    clf = MLabNCClassifier(
        hidden_layer_sizes=args.hidden,
        dropout=0.0,  # the same network as the other contenders
        decision="cardinality",  # training throughput only: no out-of-fold rule selection
        optimizer="sgd",
        lr=args.lr,
        momentum=0.9,
        weight_decay=5e-4,
        lr_schedule="constant",
        batch_size=batch_size or args.batch_size,
        max_epochs=args.epochs,
        device=str(device),
        precision=precision,
        compile=compile,
        random_state=0,
    )
    _sync(device)
    start = time.perf_counter()
    clf.fit(X, Y)
    _sync(device)
    return time.perf_counter() - start


def skorch_default(X, Y, args, device):
    from skorch import NeuralNet

    net = NeuralNet(
        Network,
        module__n_features=X.shape[1],
        module__hidden=args.hidden,
        module__n_labels=Y.shape[1],
        criterion=_PALOnLogits,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        optimizer__weight_decay=5e-4,
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        iterator_train__shuffle=True,
        train_split=None,
        device=str(device),
        verbose=0,
    )
    _sync(device)
    start = time.perf_counter()
    net.fit(X, Y)
    _sync(device)
    return time.perf_counter() - start


def sklearn_mlp(X, Y, args, device):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(
        hidden_layer_sizes=args.hidden,
        solver="sgd",
        learning_rate_init=args.lr,
        momentum=0.9,
        nesterovs_momentum=False,
        alpha=5e-4,
        batch_size=args.batch_size,
        max_iter=args.epochs,
        tol=0.0,
        n_iter_no_change=args.epochs + 1,
        shuffle=True,
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, Y.astype(int))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20000)
    parser.add_argument("--n-features", type=int, default=256)
    parser.add_argument("--n-labels", type=int, default=20)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024, 512])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--compile", action="store_true", help="add MLabNCClassifier(compile=True)"
    )
    parser.add_argument("--large-batch", type=int, help="add MLabNCClassifier at this batch size")
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--out", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.hidden, args.epochs, args.repeats = 8192, [256, 256], 2, 2
    args.hidden = tuple(args.hidden)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    X, Y = make_data(args.n_samples, args.n_features, args.n_labels)

    auto = resolve_precision("auto", device)
    contenders = {
        "hand-written loop": lambda: hand_written(X, Y, args, device),
        "hand-written loop bf16": lambda: hand_written(X, Y, args, device, torch.bfloat16),
        "MLabNCClassifier float32": lambda: library(X, Y, args, device, "float32"),
        f"MLabNCClassifier auto ({auto})": lambda: library(X, Y, args, device),
        "skorch default": lambda: skorch_default(X, Y, args, device),
    }
    if args.compile:
        contenders["MLabNCClassifier compile"] = lambda: library(X, Y, args, device, compile=True)
    if args.large_batch:
        contenders[f"MLabNCClassifier batch {args.large_batch}"] = lambda: library(
            X, Y, args, device, batch_size=args.large_batch
        )
    if device.type == "cpu" and not args.skip_sklearn:
        contenders["sklearn MLPClassifier"] = lambda: sklearn_mlp(X, Y, args, device)
    warm_up = argparse.Namespace(**{**vars(args), "epochs": 1})
    for precision in ("float32", "auto"):
        library(X[:2048], Y[:2048], warm_up, device, precision)
    compile_cost = None
    if args.compile:  # compilation happens once per process; leave it out of the rounds
        first = library(X, Y, warm_up, device, compile=True)
        again = library(X, Y, warm_up, device, compile=True)
        compile_cost = {"first_fit_s": first, "second_fit_s": again}

    times = {name: [] for name in contenders}
    for _ in range(args.repeats):  # interleaved, so machine noise hits everyone alike
        for name, run in contenders.items():
            times[name].append(run())
    best = {name: min(t) for name, t in times.items()}
    base, base_bf16 = best["hand-written loop"], best["hand-written loop bf16"]
    samples = args.n_samples * args.epochs
    device_name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(
        f"\n{args.n_samples} samples x {args.epochs} epochs, MLP {args.n_features}->"
        f"{'->'.join(map(str, args.hidden))}->{args.n_labels}, batch {args.batch_size}, "
        f"device {device} ({device_name}), torch threads {torch.get_num_threads()}, "
        f"best of {args.repeats}\n"
    )
    print(
        "| contender | samples/s | s/epoch | µs/step | vs hand-written float32 "
        "| vs hand-written bf16 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for name, seconds in best.items():
        batch = args.large_batch if name.endswith(f"batch {args.large_batch}") else args.batch_size
        steps = args.epochs * -(-args.n_samples // batch)
        rows.append(
            {
                "contender": name,
                "samples_per_s": samples / seconds,
                "seconds": seconds,
                "seconds_per_epoch": seconds / args.epochs,
                "us_per_step": 1e6 * seconds / steps,
                "ratio": base / seconds,
                "ratio_bf16_loop": base_bf16 / seconds,
                "all_seconds": times[name],
            }
        )
        print(
            f"| {name} | {samples / seconds:,.0f} | {seconds / args.epochs:.3f} | "
            f"{1e6 * seconds / steps:,.0f} | {base / seconds:.2f}x | {base_bf16 / seconds:.2f}x |"
        )
    default = best[f"MLabNCClassifier auto ({auto})"]
    print(
        f"\nheadline: default fit (precision='auto' -> {auto}) runs at "
        f"{base / default:.2f}x the float32 hand-written loop"
    )
    if compile_cost:
        print(
            f"\ncompile=True, one epoch: first fit {compile_cost['first_fit_s']:.2f} s "
            f"(compiles), second fit {compile_cost['second_fit_s']:.2f} s (reuses the graphs)"
        )
    if args.out:
        with open(args.out, "w") as fh:
            result = {"config": {**vars(args), "device_name": device_name}, "rows": rows}
            json.dump({**result, "compile_warm_up": compile_cost}, fh, indent=2)


if __name__ == "__main__":
    main()
