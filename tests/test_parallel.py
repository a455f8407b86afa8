"""Data-parallel training (strategy="ddp"): two gloo processes against one, on the CPU.

``torchrun`` starts two processes of ``ddp_worker.py`` once per module; each fits the same
problems with ``strategy="ddp"`` and pickles what is compared here against one-process fits
in this process. The Dask helper is checked on a two-process ``LocalCluster``.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sklearn_mlabnc import MLabNCClassifier, load_model
from sklearn_mlabnc._batching import BatchIterator, TensorBatches
from sklearn_mlabnc._parallel import ShardedBatches
from sklearn_mlabnc.collapse import CollapseStatistics, collapse_report

sys.path.insert(0, str(Path(__file__).parent))
import ddp_worker

if not torch.distributed.is_available():
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)

WORLD = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What every rank of a 2-process torchrun of ``ddp_worker.py`` recorded."""
    out = tmp_path_factory.mktemp("ddp")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={WORLD}",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(Path(__file__).parent / "ddp_worker.py"),
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]


@pytest.fixture(scope="module")
def problem():
    return ddp_worker.problem()


def _single(name, problem):
    X, Y = problem
    return MLabNCClassifier(**ddp_worker.scenarios()[name]).fit(X, Y)


def _state(clf):
    return {k: v.numpy() for k, v in clf.net_.module_.state_dict().items()}


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


@pytest.mark.parametrize("name", ["exact", "early", "seedless", "batchnorm"])
def test_every_rank_ends_with_the_same_model(ranks, name):
    first, second = (rank[name] for rank in ranks)
    assert _max_difference(first["state"], second["state"]) == 0.0
    np.testing.assert_array_equal(first["predict"], second["predict"])
    np.testing.assert_array_equal(first["proba"], second["proba"])
    np.testing.assert_equal(first["history"], second["history"])  # NaN == NaN here
    assert first["seed"] == second["seed"]
    assert first["wrapped"] == "MLabNCNetwork"  # DDP is unwrapped after training


def test_matches_a_one_process_fit(ranks, problem):
    # uneven shards (batch 15 -> 8 + 7; last batch 7 -> 4 + 3) and a feature penalty
    X, _ = problem
    single, ddp = _single("exact", problem), ranks[0]["exact"]
    assert _max_difference(_state(single), ddp["state"]) < 1e-6
    np.testing.assert_array_equal(single.predict(X), ddp["predict"])
    np.testing.assert_allclose(single.predict_proba(X), ddp["proba"], atol=1e-6)
    assert len(single.history_) == len(ddp["history"]) == 4
    for ours, theirs in zip(single.history_, ddp["history"], strict=True):
        np.testing.assert_allclose(theirs["train_loss"], ours["train_loss"], rtol=1e-6)
        np.testing.assert_allclose(theirs["feature_sq_norm"], ours["feature_sq_norm"], rtol=1e-6)
        nc_keys = [k for k in ours if k.startswith("train_nc")]
        assert sorted(nc_keys) == sorted(k for k in theirs if k.startswith("train_nc"))
        for key in nc_keys:  # collapse statistics merged over the ranks' blocks
            np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-5)
    assert sum("train_nc1" in row for row in ddp["history"]) == 3  # epochs 1, 2 and 4


def test_merged_statistics_equal_the_full_data_ones(ranks, problem):
    X, Y = problem
    features = _single("exact", problem).transform(X)
    full = CollapseStatistics().partial_fit(features, Y)
    for rank in ranks:
        merged = rank["merged"]  # of the rank's rows, merged over the ranks
        assert merged.n_samples_ == len(X)
        np.testing.assert_array_equal(merged.label_sets_, full.label_sets_)
        np.testing.assert_array_equal(merged.counts_, full.counts_)
        np.testing.assert_allclose(merged.means_, full.means_, rtol=1e-6, atol=1e-6)
        nc1 = collapse_report(merged).nc1
        np.testing.assert_allclose(nc1, collapse_report(features, Y).nc1, rtol=1e-6)


def test_early_stopping_stops_every_rank_at_the_one_process_epoch(ranks, problem):
    single = _single("early", problem)
    stopped = [len(rank["early"]["history"]) for rank in ranks]
    assert stopped == [single.n_iter_] * WORLD
    assert single.n_iter_ < ddp_worker.scenarios()["early"]["max_epochs"]
    assert _max_difference(_state(single), ranks[0]["early"]["state"]) < 1e-6
    losses = [row["valid_loss"] for row in ranks[0]["early"]["history"]]
    np.testing.assert_allclose(losses, [row["valid_loss"] for row in single.history_], rtol=1e-6)


def test_random_state_none_uses_rank_zeros_seed(ranks):
    seeds = {rank["seedless"]["seed"] for rank in ranks}
    assert len(seeds) == 1
    assert seeds != {ranks[0]["exact"]["seed"]}  # drawn, not the fixed one


def test_batchnorm_on_the_cpu_warns(ranks):
    for name, expected in (("batchnorm", True), ("exact", False)):
        for rank in ranks:
            warned = any("BatchNorm" in message for message in rank[name]["warnings"])
            assert warned is expected, name


def test_the_fitted_model_pickles_and_saves_as_a_plain_one(ranks, problem, tmp_path):
    X, _ = problem
    clf = pickle.loads(ranks[0]["exact"]["pickle"])
    assert clf.strategy == "ddp" and clf.net_.parallel_ is None
    np.testing.assert_array_equal(clf.predict(X), ranks[0]["exact"]["predict"])
    # A saved data-parallel model loads and predicts in a process without any group.
    loaded = load_model(clf.save(tmp_path / "model.safetensors"))
    np.testing.assert_array_equal(loaded.predict(X), ranks[0]["exact"]["predict"])


def test_ddp_without_a_process_group_says_how_to_start_one(problem, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    X, Y = problem
    with pytest.raises(RuntimeError, match="torchrun"):
        MLabNCClassifier(strategy="ddp", max_epochs=1).fit(X, Y)


@pytest.mark.parametrize("world", [2, 3])
def test_shards_partition_the_one_process_batches(world):
    # 47 samples in batches of 10: the last batch (7) splits unevenly over the ranks.
    data = TensorBatches(np.arange(47, dtype=np.float32)[:, None], None, torch.device("cpu"))
    reference = [b[0].ravel().tolist() for b in BatchIterator(data, 10, shuffle=True, seed=3)]
    shards, scales = [], []
    for rank in range(world):
        parallel = SimpleNamespace(rank=rank, world=world, batch_scale=None)
        batches = ShardedBatches(data, 10, shuffle=True, seed=3, parallel=parallel)
        rows = []
        for Xb, _ in batches:
            rows.append(Xb.ravel().tolist())
            scales.append((rank, len(rows) - 1, parallel.batch_scale))
        shards.append(rows)
    assert [len(rows) for rows in shards] == [len(reference)] * world
    for b, batch in enumerate(reference):  # every rank has rows; together, the batch
        assert all(shards[rank][b] for rank in range(world))
        assert sorted(x for rank in range(world) for x in shards[rank][b]) == sorted(batch)
    for rank, b, scale in scales:
        assert scale == pytest.approx(len(shards[rank][b]) * world / len(reference[b]))
    # Evaluation: contiguous blocks, one per rank, together the data set in order.
    blocks = []
    for rank in range(world):
        parallel = SimpleNamespace(rank=rank, world=world, batch_scale=None)
        for Xb, _ in ShardedBatches(data, 10, parallel=parallel):
            blocks.extend(Xb.ravel().tolist())
    assert blocks == list(range(47))


def test_fit_on_dask_matches_a_one_process_fit(problem):
    distributed = pytest.importorskip("distributed")
    from sklearn_mlabnc.distributed import fit_on_dask

    X, Y = problem
    params = dict(ddp_worker.scenarios()["exact"], collapse_every=None, max_epochs=3)
    single = MLabNCClassifier(**params).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. port-in-use notices from the scheduler
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env={"OMP_NUM_THREADS": "1"},
        )
    with cluster, distributed.Client(cluster) as client:
        estimator = MLabNCClassifier(**params)
        fitted = fit_on_dask(estimator, X, Y, client=client)
        with pytest.raises(ValueError, match="needs 3 workers"):
            fit_on_dask(estimator, X, Y, client=client, n_workers=3)
    assert not hasattr(estimator, "net_")  # a fitted copy comes back
    assert fitted.strategy == "ddp"
    assert _max_difference(_state(single), _state(fitted)) < 1e-6
    np.testing.assert_array_equal(single.predict(X), fitted.predict(X))


def test_shards_need_as_many_samples_as_processes():
    from sklearn_mlabnc._parallel import DataParallel

    parallel = DataParallel.__new__(DataParallel)  # no process group needed for the check
    parallel.rank, parallel.world = 0, 4
    with pytest.raises(ValueError, match="at least 4 training samples"):
        parallel.train(None, [0, 1, 2], None, 1, 0)


def test_strategy_is_validated():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="strategy"):
        MLabNCClassifier(strategy="fsdp").fit(X, [0, 1, 0, 1])
