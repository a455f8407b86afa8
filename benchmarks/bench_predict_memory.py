"""Peak memory of prediction against the number of rows: inference streams.

For each ``n`` a fresh subprocess builds ``X``, ``n`` x 128 float32 rows (``n * 512`` bytes),
fits the default ``MLabNCClassifier`` (MLP 128->256->256, K = 20 labels, one epoch) on its
first ``--n-fit`` rows, then calls ``predict``, ``predict_proba``, ``decision_function`` and
``transform`` on all of ``X`` in turn. A thread samples the process's resident set size
(``/proc/self/statm``) every millisecond during each call; the table gives the peak growth
over the resident size before the call (what ``fit`` left, ``X`` included) next to the size
of the array the call returns. Streaming inference keeps the growth at the returned array
plus a few chunks of a few hundred rows (and, for ``predict``, the boolean label sets it
decodes).

Linux only (``/proc``). Usage::

    python benchmarks/bench_predict_memory.py                 # n = 500,000 and 2,000,000
    python benchmarks/bench_predict_memory.py --quick --out /tmp/predict_memory.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np

METHODS = ("predict", "predict_proba", "decision_function", "transform")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 2**20


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakSampler(threading.Thread):
    """The largest resident set size seen while the thread runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.running = rss(), True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def stop(self) -> int:
        self.running = False
        self.join()
        return max(self.peak, rss())


def child(n: int, n_fit: int, n_features: int, n_labels: int) -> dict:
    import torch

    from sklearn_mlabnc import MLabNCClassifier

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = np.empty((n, n_features), dtype=np.float32)
    for start in range(0, n, 100_000):  # no float64 temporary of the whole array
        X[start : start + 100_000] = rng.standard_normal(
            (min(100_000, n - start), n_features), dtype=np.float32
        )
    atoms = rng.normal(size=(n_labels, n_features)).astype(np.float32)
    Y = (X[:n_fit] @ atoms.T > 1.0).astype(np.int8)
    clf = MLabNCClassifier(max_epochs=1, random_state=0).fit(X[:n_fit], Y)
    gc.collect()
    out = {"n": n, "x_mb": X.nbytes / MB, "after_fit_mb": rss() / MB, "methods": {}}
    for method in METHODS:
        gc.collect()
        before = rss()
        sampler = PeakSampler()
        sampler.start()
        start = time.perf_counter()
        result = getattr(clf, method)(X)
        seconds = time.perf_counter() - start
        peak = sampler.stop()
        out["methods"][method] = {
            "growth_mb": (peak - before) / MB,
            "returned_mb": result.nbytes / MB,
            "seconds": seconds,
        }
        del result
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["precision"] = clf.precision_
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--n-fit", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=128)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="n = 100,000, fitted on 5,000")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="write the results as JSON to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.n_fit = [100_000], 5_000
    if args.child:
        result = child(args.n[0], args.n_fit, args.n_features, args.labels)
        print(json.dumps(result))
        return
    results = []
    for n in args.n:
        command = [sys.executable, __file__, "--child", "--n", str(n)]
        command += ["--n-fit", str(args.n_fit), "--n-features", str(args.n_features)]
        command += ["--labels", str(args.labels)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"X: n x {args.n_features} float32, K = {args.labels}, default MLP fitted on "
        f"{args.n_fit:,} rows for one epoch, 1 torch thread\n"
    )
    print("| n | X (MB) | RSS after fit (MB) | method | returned (MB) | peak growth (MB) | s |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    for res in results:
        for method, m in res["methods"].items():
            print(
                f"| {res['n']:,} | {res['x_mb']:,.0f} | {res['after_fit_mb']:,.0f} | {method} "
                f"| {m['returned_mb']:,.0f} | {m['growth_mb']:,.0f} | {m['seconds']:.1f} |"
            )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"config": vars(args), "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
