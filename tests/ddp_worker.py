"""One process of the data-parallel tests in ``test_parallel.py``, started by ``torchrun``.

Every process fits the same small problems with ``strategy="ddp"`` and pickles what the
tests compare (parameters, predictions, histories, merged collapse statistics) to
``<out>/rank<r>.pkl``. Run as ``torchrun --nproc_per_node 2 ddp_worker.py OUT``.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import warnings

import numpy as np


def problem(n: int = 97):
    """``n`` samples, 4 labels (97: uneven shards of batch 15, 8/7; last batch 7 -> 4/3)."""
    rng = np.random.default_rng(0)
    Y = (rng.random((n, 4)) < 0.4).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    X = Y @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(n, 6))
    return X, Y


#: The uneven-split matrix: batches of SPLIT_BATCH rows, the last one leaving a remainder
#: of 0 to 3 rows (0 to world_size, and 2 * world_size - 1 for batch norm's two rows a
#: process), with and without batch norm, with early stopping and decision="auto".
SPLIT_BATCH = 10
SPLITS = {
    f"split{r}{'_bn' if bn else ''}": (40 + r, dict(batch_norm=bn))
    for r in range(4)
    for bn in (False, True)
}
SPLITS.update(
    {  # 56 rows, a quarter held out: 42 training rows, remainder 2
        f"split_early{'_bn' if bn else ''}": (
            56,
            dict(batch_norm=bn, early_stopping=True, validation_fraction=0.25, n_iter_no_change=2),
        )
        for bn in (False, True)
    }
)
SPLITS.update(
    {
        f"split_auto{'_bn' if bn else ''}": (52, dict(batch_norm=bn, decision="auto"))
        for bn in (False, True)
    }
)


def rows(name: str) -> int:
    """The number of samples scenario ``name`` fits."""
    return {**{k: n for k, (n, _) in SPLITS.items()}, "issue": 203}.get(name, 97)


def scenarios():
    """Estimator parameters per scenario; the first three have exact one-process twins."""
    from sklearn_mlabnc.backbones import MLP

    plain = functools.partial(MLP, hidden_layer_sizes=(16,), batch_norm=False)
    base = dict(
        module=plain,
        batch_size=15,
        lr=1e-2,
        feature_decay=1e-2,
        precision="float32",
        random_state=0,
    )
    return {
        "exact": dict(base, max_epochs=4, collapse_every=2),
        "early": dict(
            base,
            lr=0.2,
            max_epochs=40,
            early_stopping=True,
            validation_fraction=0.3,
            n_iter_no_change=2,
            optimizer="sgd",
        ),
        "seedless": dict(base, max_epochs=2, random_state=None),
        "batchnorm": dict(
            hidden_layer_sizes=(16,), dropout=0.0, lr=1e-2, max_epochs=2, random_state=0
        ),
        # The reported crash: the default network, 203 rows in batches of 50 (last: 3).
        "issue": dict(batch_size=50, max_epochs=2, random_state=0),
        "tiny_batch": dict(hidden_layer_sizes=(16,), batch_size=3, max_epochs=1, random_state=0),
        **{name: _split_params(base, **options) for name, (_, options) in SPLITS.items()},
    }


def _split_params(base: dict, batch_norm: bool, **options) -> dict:
    from sklearn_mlabnc.backbones import MLP

    module = functools.partial(MLP, hidden_layer_sizes=(16,), batch_norm=batch_norm)
    options = {"decision": "threshold", **options}
    return dict(base, module=module, batch_size=SPLIT_BATCH, max_epochs=6, **options)


def main(out: str) -> None:
    import torch

    torch.set_num_threads(1)
    import torch.distributed as dist

    import sklearn_mlabnc._selection as selection
    from sklearn_mlabnc import MLabNCClassifier
    from sklearn_mlabnc._parallel import DataParallel
    from sklearn_mlabnc.collapse import CollapseStatistics

    fold_fits = []
    fold_outputs = selection._fold_outputs

    def counted(*args):  # how many fold models this process trains
        fold_fits.append(args[-1])
        return fold_outputs(*args)

    selection._fold_outputs = counted
    results = {}
    for name, params in scenarios().items():
        X, Y = problem(rows(name))
        fold_fits.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                clf = MLabNCClassifier(**params, strategy="ddp").fit(X, Y)
            except ValueError as exc:  # refused alike in every process
                results[name] = {"error": str(exc)}
                continue
        results[name] = {
            "fold_fits": list(fold_fits),
            "decision": clf.decision_,
            "decision_scores": getattr(clf, "decision_scores_", None),
            "state": {k: v.numpy().copy() for k, v in clf.net_.module_.state_dict().items()},
            "predict": clf.predict(X),
            "proba": clf.predict_proba(X),
            "history": [{k: v for k, v in r.items() if k != "dur"} for r in clf.history_],
            "seed": clf._seed,
            "warnings": [str(w.message) for w in caught],
            "pickle": pickle.dumps(clf),
            "wrapped": type(clf.net_.module_).__name__,
        }
    # Statistics of this rank's rows merged across ranks, against the full data's.
    X, Y = problem()
    features = MLabNCClassifier(**scenarios()["exact"]).fit(X, Y).transform(X)
    rank, world = dist.get_rank(), dist.get_world_size()
    own = CollapseStatistics().partial_fit(features[rank::world], Y[rank::world])
    merged = DataParallel().merge_statistics(own)
    results["merged"] = merged
    with open(os.path.join(out, f"rank{rank}.pkl"), "wb") as file:
        pickle.dump(results, file)
    dist.barrier()
    dist.destroy_process_group()


def fail(out: str, how: str) -> None:
    """Rank 1 dies (``how="die"``) or fails and lives on (``"raise"``) in its third epoch;
    rank 0 writes what it raised to ``<out>/rank0.txt``."""
    import time

    import torch
    from skorch.callbacks import Callback

    from sklearn_mlabnc import MLabNCClassifier

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])

    class FailInRank1(Callback):
        def on_batch_end(self, net, **kwargs):
            if rank == 1 and len(net.history) == 3:
                if how == "die":
                    os._exit(3)
                raise RuntimeError("rank 1 failed")

    X, Y = problem(400)
    params = dict(scenarios()["exact"], collapse_every=None, max_epochs=50)
    started = time.monotonic()
    try:
        MLabNCClassifier(**params, strategy="ddp", callbacks=[FailInRank1()]).fit(X, Y)
        outcome = "finished"
    except RuntimeError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    if rank == 0:
        with open(os.path.join(out, "rank0.txt"), "w") as file:
            file.write(f"{time.monotonic() - started:.1f}\n{outcome}")
    else:
        time.sleep(600)  # a failed process that lives on (a notebook, a Dask worker)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        fail(sys.argv[1], sys.argv[2])
    else:
        main(sys.argv[1])
    sys.stdout.flush()
    # Skip the interpreter's teardown: after a gloo group, some torch builds abort there
    # now and then ("terminate called without an active exception"), once the results
    # are written and the group is destroyed.
    os._exit(0)
