"""A training budget in optimizer steps: does a floor on the steps help the default?

``MLabNCClassifier()`` trains ``max_epochs=40`` epochs whatever the data size, so a 400-row
set gets about 160 optimizer steps and a 2,000-row set 600. For each floor ``S`` in
``--floors`` this fits ``MLabNCClassifier(max_epochs=max(40, ceil(S / steps_per_epoch)))``
(``steps_per_epoch = ceil(n_train / batch_size)``; ``S = 0`` is the default) on the shared
sets (emotions, yeast, enron with their train/test splits, CAL500 with
``KFold(5, shuffle=True, random_state=0)``, multi-label digits), features standardised on
the training split, and reports test micro-F1 and LRAP, mean ± std over ``--seeds`` (CAL500:
the mean over its folds per seed first). Needs ``MLABNC_DATA_DIR``; one thread.

Example::

    python benchmarks/bench_step_budget.py --floors 0 500 --seeds 0 1 2 --out steps.json
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, label_ranking_average_precision_score
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.datasets import load_mulan, make_multilabel_digits

SETS = ("emotions", "yeast", "enron", "CAL500", "digits")


def _scaled(Xtr, Ytr, Xte, Yte):
    scaler = StandardScaler().fit(np.asarray(Xtr, np.float64))
    as32 = lambda A: scaler.transform(np.asarray(A, np.float64)).astype(np.float32)  # noqa: E731
    return as32(Xtr), np.asarray(Ytr, int), as32(Xte), np.asarray(Yte, int)


def splits(name: str):
    """The (train, test) splits of a shared set: one, or CAL500's five folds."""
    if name == "digits":
        Xtr, Ytr = make_multilabel_digits(subset="train", random_state=0, return_X_y=True)
        Xte, Yte = make_multilabel_digits(subset="test", random_state=1, return_X_y=True)
        return [_scaled(Xtr, Ytr, Xte, Yte)]
    folder = os.environ.get("MLABNC_DATA_DIR")
    if not folder:
        raise SystemExit("set MLABNC_DATA_DIR to the folder of the MULAN files")
    if name == "CAL500":
        X, Y = load_mulan(Path(folder) / "CAL500.arff", return_X_y=True)
        X, Y = np.asarray(X, np.float64), np.asarray(Y)
        folds = KFold(5, shuffle=True, random_state=0).split(X)
        return [_scaled(X[tr], Y[tr], X[te], Y[te]) for tr, te in folds]
    Xtr, Ytr = load_mulan(Path(folder) / f"{name}-train.arff", return_X_y=True)
    Xte, Yte = load_mulan(Path(folder) / f"{name}-test.arff", return_X_y=True)
    return [_scaled(Xtr, Ytr, Xte, Yte)]


def epochs_for(floor: int, n_train: int, batch_size: int = 128, max_epochs: int = 40) -> int:
    """``max_epochs`` raised so that the fit makes at least ``floor`` optimizer steps."""
    per_epoch = -(-n_train // batch_size)
    return max(max_epochs, -(-floor // per_epoch))


def run(name: str, floor: int, seed: int) -> dict:
    micro, lrap = [], []
    for Xtr, Ytr, Xte, Yte in splits(name):
        epochs = epochs_for(floor, len(Ytr))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MLabNCClassifier(max_epochs=epochs, random_state=seed).fit(Xtr, Ytr)
        micro.append(f1_score(Yte, model.predict(Xte), average="micro", zero_division=0))
        lrap.append(label_ranking_average_precision_score(Yte, model.predict_proba(Xte)))
    row = {
        "set": name,
        "floor": floor,
        "seed": seed,
        "epochs": epochs,
        "micro_f1": round(float(np.mean(micro)), 4),
        "lrap": round(float(np.mean(lrap)), 4),
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows) -> str:
    lines = ["| data | floor S | epochs | micro-F1 | LRAP |", "|---|---|---|---|---|"]
    for name in dict.fromkeys(r["set"] for r in rows):
        for floor in dict.fromkeys(r["floor"] for r in rows):
            sel = [r for r in rows if r["set"] == name and r["floor"] == floor]
            if not sel:
                continue
            f1, lr = np.array([r["micro_f1"] for r in sel]), np.array([r["lrap"] for r in sel])
            lines.append(
                f"| {name} | {floor} | {sel[0]['epochs']} | {f1.mean():.4f} ± {f1.std():.4f} "
                f"| {lr.mean():.4f} ± {lr.std():.4f} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--floors", nargs="*", type=int, default=[0, 500])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with threadpool_limits(1):
        for name in args.sets:
            for floor in args.floors:
                for seed in args.seeds:
                    rows.append(run(name, floor, seed))
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
