"""Benchmark: the cost of FeatureRecorder inside a PyTorch training epoch, on the CPU.

A small CNN (``SmallCNN``, channels 32-64, d = 64 penultimate features, a linear head) is
trained with SGD on the multi-label digits (1,900 canvases of 16x16, batch 128, PAL loss)
for one epoch at a time, with torch on one thread. Per epoch, interleaved in one process
(so that the machine's load affects every variant alike), median over ``--repeats``:

- ``plain``: the training epoch alone;
- ``recorder``: the same epoch with every forward pass inside ``recorder.record(y)`` and
  the report (NC1, NC2, NC3, NC_m) computed at the end of the epoch;
- multiclass (only the 10 singleton label sets, 190 canvases each), where the reference NC
  library (rhubarbwu/neural-collapse) applies: ``recorder`` as above with 1-D class labels,
  and the reference's accumulators used the same way as far as they can be: its
  ``MeanAccumulator`` update (``onehot(y)^T H``) on each training batch's features, then,
  because its ``CovarAccumulator`` needs the final means, a second no-grad pass over the
  epoch's data for the within-class covariance, and its NC1 (re-implemented as in
  ``bench_collapse.py``; the library itself is not on the package registries).

The overhead is the variant's epoch time over the plain epoch's, minus 1. On a loaded
machine the epoch times vary by several per cent between repeats, so the recorder's own work
is also timed alone (``statistics alone``): ``partial_fit`` on the epoch's penultimate
features (computed beforehand) and the report, over the plain epoch's median time.

Usage::

    python benchmarks/bench_recorder.py --repeats 7 --out /tmp/bench_recorder.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from torch import nn

from sklearn_mlabnc.backbones import SmallCNN
from sklearn_mlabnc.collapse import CollapseStatistics, FeatureRecorder, collapse_report
from sklearn_mlabnc.datasets import make_multilabel_digits


def network(K: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(SmallCNN(256, channels=(32, 64)), nn.Linear(64, K))


def pal(logits, Y):
    return -(Y * torch.log_softmax(logits, dim=1)).sum(1).mean()


def batches(X, Y, batch_size=128, seed=0):
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    return [(X[i], Y[i]) for i in order.split(batch_size)]


def epoch(model, optimizer, parts, recorder=None, targets=None, reference=None):
    """One training epoch; returns its wall time (the report / NC1 included)."""
    start = time.perf_counter()
    for k, (x, y) in enumerate(parts):
        t = y if targets is None else targets[k]
        if recorder is not None:
            with recorder.record(t):
                logits = model(x)
        elif reference is not None:
            features = model[0](x)
            logits = model[1](features)
            reference.means_step(features.detach(), t)
        else:
            logits = model(x)
        loss = pal(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if recorder is not None:
        recorder.report(W=model[1].weight, b=model[1].bias)
        recorder.reset()
    if reference is not None:
        reference.finish(model, parts, targets)
    return time.perf_counter() - start


class ReferenceAccumulators:
    """rhubarbwu/neural-collapse's Mean- and CovarAccumulator, used inside the loop."""

    def __init__(self, K: int, d: int):
        self.K, self.d = K, d
        self.reset()

    def reset(self):
        self.totals = torch.zeros(self.K, self.d)
        self.counts = torch.zeros(self.K, dtype=torch.int32)

    def means_step(self, H, y):
        idxs = y[:, None] == torch.arange(self.K, dtype=y.dtype)
        self.counts += idxs.sum(0, dtype=torch.int32)
        self.totals += idxs.mT.to(H.dtype) @ H

    def finish(self, model, parts, targets):
        eps = torch.finfo(torch.float32).eps
        M = self.totals / (self.counts[:, None] + eps)
        cov = torch.zeros(self.d, self.d)
        n = 0
        with torch.no_grad():  # the second pass its covariance needs
            for (x, _), y in zip(parts, targets, strict=True):
                diff = model[0](x) - M[y]
                cov += diff.mT @ diff
                n += len(y)
        Mc = M - M.mean(dim=0)
        nc1 = float(torch.trace(torch.linalg.pinv(Mc.mT @ Mc / self.K) @ (cov / n))) / self.K
        self.reset()
        return nc1


def run(repeats: int) -> dict:
    torch.set_num_threads(1)
    out = {}
    # multi-label: singletons and pairs
    X, Y = make_multilabel_digits(subset="train", return_X_y=True, random_state=0)
    X, Y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    # multiclass: singletons only
    Xs, Ys = make_multilabel_digits(
        190, 1, max_multiplicity=1, subset="train", return_X_y=True, random_state=0
    )
    Xs, Ys = torch.tensor(Xs, dtype=torch.float32), torch.tensor(Ys, dtype=torch.float32)
    K = Y.shape[1]
    setups = {}
    for name, (XX, YY) in {"multi-label": (X, Y), "multiclass": (Xs, Ys)}.items():
        parts = batches(XX, YY)
        classes = [y.argmax(1) for _, y in parts]
        variants = {"plain": {}}
        model = network(K)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if name == "multi-label":
            variants["recorder"] = {"recorder": FeatureRecorder(model, "1", capture="input")}
        else:
            variants["recorder (class labels)"] = {
                "recorder": FeatureRecorder(model, "1", capture="input"),
                "targets": classes,
            }
            variants["reference accumulators"] = {
                "reference": ReferenceAccumulators(K, 64),
                "targets": classes,
            }
        setups[name] = (model, optimizer, parts, variants)
    times = {name: {v: [] for v in setups[name][3]} for name in setups}
    epoch(*setups["multi-label"][:3])  # warm-up
    for _ in range(repeats):
        for name, (model, optimizer, parts, variants) in setups.items():
            for variant, kwargs in variants.items():
                times[name][variant].append(epoch(model, optimizer, parts, **kwargs))
    alone = []
    model, _, parts, _ = setups["multi-label"]
    with torch.no_grad():
        features = [(model[0](x), y) for x, y in parts]
    for _ in range(repeats):
        start = time.perf_counter()
        stats = CollapseStatistics()
        for h, y in features:
            stats.partial_fit(h, y)
        collapse_report(stats, W=model[1].weight.detach(), b=model[1].bias.detach())
        alone.append(time.perf_counter() - start)
    times["multi-label"]["statistics alone"] = alone
    for name, per_variant in times.items():
        plain = statistics.median(per_variant["plain"])
        out[name] = {
            variant: {
                "median_s": statistics.median(t),
                "overhead": statistics.median(t) / plain - 1.0,
                "all_s": t,
            }
            for variant, t in per_variant.items()
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    results = run(args.repeats)
    print("| targets | variant | epoch (s, median) | overhead |")
    print("|---|---|---|---|")
    for name, per_variant in results.items():
        for variant, r in per_variant.items():
            share = r["overhead"] + 1.0 if variant == "statistics alone" else r["overhead"]
            print(f"| {name} | {variant} | {r['median_s']:.3f} | {share:+.1%} |")
    print(f"load average after: {os.getloadavg()}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"command": "python benchmarks/bench_recorder.py", "results": results}, f, indent=1
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
