"""Benchmark: which probability calibration, on which out-of-fold outputs.

For one default fit (``MLabNCClassifier(decision="auto", calibration="off")``, features
standardised on the training split) per data set and seed, the out-of-fold outputs of the
decision rule's fold models are captured, and every calibrator is fitted on the *same*
outputs and scored on the test split, so the comparison costs one fit per data set:

- ``platt_lsm_l<λ>``: per-label Platt maps of the label log-softmax, shrunk towards the
  pooled map with weight λ (what ``predict_proba`` does, λ = ``SHRINKAGE``);
- ``pooled_lsm``: one Platt map for all labels; ``platt_gap_l<λ>``: the same on the log-gap
  ``z_k - max_j z_j`` instead of the log-softmax;
- ``iso_lsm`` / ``iso_gap``: per-label isotonic regression (labels with fewer than 5
  positives or negatives use one pooled isotonic map);
- ``insample_platt_lsm``: the Platt maps fitted on the final model's own training outputs
  (no fold models at all);
- ``old``: the PAL label distribution (what ``predict_proba`` used to return).

``--full-folds`` trains the fold models with all ``max_epochs`` (``calibration="full"``)
instead of a quarter (``decision="auto"``'s, ``calibration="fast"``).

Metrics on the test split: per-label Brier score, per-label log-loss, pooled ECE (10 bins),
the mean number of labels per row with probability >= 0.5 (``n_at_half``).

Usage::

    python benchmarks/bench_calibration.py --datasets emotions yeast --seed 0 \\
        --out /tmp/calibration.jsonl [--full-folds]
    python benchmarks/bench_calibration.py --table /tmp/calibration.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
import warnings

import numpy as np
from scipy.special import expit, log_softmax
from sklearn.isotonic import IsotonicRegression

sys.path.insert(0, os.path.dirname(__file__))
from bench_peers import DATASETS, calibration, load

LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0)


def isotonic(S, Y, min_count=5):
    """Per-label isotonic maps (a pooled one for labels with few positives or negatives)."""
    fit = lambda s, y: IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(s, y)  # noqa: E731
    pooled = fit(S.ravel(), Y.ravel())
    models = [
        fit(S[:, k], Y[:, k])
        if min(Y[:, k].sum(), len(Y) - Y[:, k].sum()) >= min_count
        else pooled
        for k in range(S.shape[1])
    ]
    return lambda T: np.stack([m.predict(T[:, k]) for k, m in enumerate(models)], axis=1)


def run(name, seed, full_folds, data_dir, out):
    import sklearn_mlabnc._selection as selection
    from sklearn_mlabnc import MLabNCClassifier
    from sklearn_mlabnc._calibration import LabelCalibrator

    original = selection.out_of_fold
    for fold, d in enumerate(load(name, data_dir)):
        captured = {}

        def capture(*args, captured=captured, **kwargs):
            captured["oof"] = result = original(*args, **kwargs)
            return result

        selection.out_of_fold = capture
        if full_folds:
            kept, selection.fold_epochs = selection.fold_epochs, lambda max_epochs: max_epochs
        try:
            clf = MLabNCClassifier(device="cpu", random_state=seed, calibration="off")
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(d["Xtr"], d["Ytr"])
            fit_s = time.perf_counter() - start
        finally:
            selection.out_of_fold = original
            if full_folds:
                selection.fold_epochs = kept
        K = d["Ytr"].shape[1]
        test = clf.network_outputs(d["Xte"]).logits.double().numpy()[:, :K]
        train = clf.network_outputs(d["Xtr"]).logits.double().numpy()[:, :K]
        oof = captured["oof"].scores
        lsm = {"oof": log_softmax(oof, 1), "te": log_softmax(test, 1), "tr": log_softmax(train, 1)}
        gap = {"oof": oof, "te": test - test.max(1, keepdims=True)}
        Y = d["Ytr"]
        res = {"old": clf.predict_label_distribution(d["Xte"])}
        for lam in LAMBDAS:
            res[f"platt_lsm_l{lam:g}"] = LabelCalibrator(lam).fit(lsm["oof"], Y).predict(lsm["te"])
            res[f"platt_gap_l{lam:g}"] = LabelCalibrator(lam).fit(gap["oof"], Y).predict(gap["te"])
        res["pooled_lsm"] = expit(
            np.polyval(LabelCalibrator().fit(lsm["oof"], Y).pooled_, lsm["te"])
        )
        res["iso_lsm"] = isotonic(lsm["oof"], Y)(lsm["te"])
        res["iso_gap"] = isotonic(gap["oof"], Y)(gap["te"])
        res["insample_platt_lsm"] = LabelCalibrator().fit(lsm["tr"], Y).predict(lsm["te"])
        for method, P in res.items():
            row = dict(data=name, seed=seed, fold=fold, full_folds=full_folds, method=method)
            row.update(calibration(d["Yte"], np.clip(P, 0, 1)), fit_s=fit_s)
            with open(out, "a") as f:
                f.write(
                    json.dumps({k: v if isinstance(v, str) else float(v) for k, v in row.items()})
                    + "\n"
                )
        print(name, seed, fold, "done", flush=True)


def table(path):
    rows = [json.loads(line) for line in open(path)]
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["data"], bool(r["full_folds"]), r["method"])].append(r)
    lines = ["| data | fold models | method | brier | log_loss | ece | n_at_half | n_true |"]
    lines.append("|" + "---|" * 8)
    for (name, full, method), rs in sorted(groups.items()):
        cells = [f"{np.mean([r[m] for r in rs]):.4f}" for m in ("brier", "log_loss", "ece")]
        cells += [f"{np.mean([r[m] for r in rs]):.2f}" for m in ("n_at_half", "n_true")]
        lines.append(
            f"| {name} | {'full' if full else 'short'} | {method} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full-folds", action="store_true")
    p.add_argument("--data-dir", default=os.environ.get("MLABNC_DATA_DIR"))
    p.add_argument("--out", default="bench_calibration.jsonl")
    p.add_argument("--table", metavar="JSONL")
    args = p.parse_args(argv)
    if args.table:
        print(table(args.table))
        return
    import torch

    torch.set_num_threads(1)
    for name in args.datasets:
        run(name, args.seed, args.full_folds, args.data_dir, args.out)


if __name__ == "__main__":
    main()
