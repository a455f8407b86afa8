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


def problem():
    """97 samples (uneven shards of batch 15: 8/7, last batch 7 -> 4/3), 4 labels."""
    rng = np.random.default_rng(0)
    Y = (rng.random((97, 4)) < 0.4).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    X = Y @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(97, 6))
    return X, Y


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
    }


def main(out: str) -> None:
    import torch

    torch.set_num_threads(1)
    import torch.distributed as dist

    from sklearn_mlabnc import MLabNCClassifier
    from sklearn_mlabnc._parallel import DataParallel
    from sklearn_mlabnc.collapse import CollapseStatistics

    X, Y = problem()
    results = {}
    for name, params in scenarios().items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf = MLabNCClassifier(**params, strategy="ddp").fit(X, Y)
        results[name] = {
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
    features = MLabNCClassifier(**scenarios()["exact"]).fit(X, Y).transform(X)
    rank, world = dist.get_rank(), dist.get_world_size()
    own = CollapseStatistics().partial_fit(features[rank::world], Y[rank::world])
    merged = DataParallel().merge_statistics(own)
    results["merged"] = merged
    with open(os.path.join(out, f"rank{rank}.pkl"), "wb") as file:
        pickle.dump(results, file)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    # Skip the interpreter's teardown: after a gloo group, some torch builds abort there
    # now and then ("terminate called without an active exception"), once the results
    # are written and the group is destroyed.
    os._exit(0)
