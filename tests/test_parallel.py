"""Data-parallel training (strategy="ddp"): two gloo processes against one, on the CPU.

``torchrun`` starts two processes of ``ddp_worker.py`` once per module; each fits the same
problems with ``strategy="ddp"`` and pickles what is compared here against one-process fits
in this process: among them the uneven-split matrix (every remainder of the last batch
from 0 to 2 * world_size - 1, batch norm on and off, early stopping, decision="auto").
Two more pairs of processes check that a process that dies, or fails and lives on, stops
the other with a clear error in bounded time. The Dask helper is checked on a two-process
``LocalCluster``.
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


def _single(name, problem=None):
    X, Y = ddp_worker.problem(ddp_worker.rows(name)) if problem is None else problem
    return MLabNCClassifier(**ddp_worker.scenarios()[name]).fit(X, Y)


def _state(clf):
    return {k: v.numpy() for k, v in clf.net_.module_.state_dict().items()}


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


SPLITS = sorted(ddp_worker.SPLITS)


@pytest.mark.parametrize("name", ["exact", "early", "seedless", "batchnorm", "issue", *SPLITS])
def test_every_rank_ends_with_the_same_model(ranks, name):
    first, second = (rank[name] for rank in ranks)
    assert "error" not in first, first
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


def _training_rows(name: str) -> int:
    n, options = ddp_worker.SPLITS[name]
    fraction = options.get("validation_fraction") if options.get("early_stopping") else None
    return n if fraction is None else n - max(1, int(round(fraction * n)))


@pytest.mark.parametrize("name", SPLITS)
def test_no_process_trains_batch_norm_on_one_row(ranks, name):
    # The last batch is merged into the previous one below max(2, world) rows, or below
    # 2 * world rows (two a process) under per-process batch norm.
    n, options = _training_rows(name), ddp_worker.SPLITS[name][1]
    size, remainder = ddp_worker.SPLIT_BATCH, _training_rows(name) % ddp_worker.SPLIT_BATCH
    smallest = 2 * WORLD if options["batch_norm"] else max(2, WORLD)
    expected = n // size + (remainder >= smallest)
    for rank in ranks:
        assert [row["train_batch_count"] for row in rank[name]["history"]] == [expected] * len(
            rank[name]["history"]
        )
        warned = any("BatchNorm" in message for message in rank[name]["warnings"])
        assert warned is options["batch_norm"]


@pytest.mark.parametrize("name", [name for name in SPLITS if not name.endswith("_bn")])
def test_every_split_without_batch_norm_matches_a_one_process_fit(ranks, name):
    X, _ = ddp_worker.problem(ddp_worker.rows(name))
    single, ddp = _single(name), ranks[0][name]
    assert _training_rows(name) % ddp_worker.SPLIT_BATCH in range(4)
    assert len(single.history_) == len(ddp["history"])
    assert _max_difference(_state(single), ddp["state"]) < 1e-6
    np.testing.assert_array_equal(single.predict(X), ddp["predict"])
    for ours, theirs in zip(single.history_, ddp["history"], strict=True):
        assert theirs["train_batch_count"] == ours["train_batch_count"]
        np.testing.assert_allclose(theirs["train_loss"], ours["train_loss"], rtol=1e-6)


def test_the_split_matrix_covers_every_remainder_and_both_networks():
    covered = {
        (_training_rows(name) % ddp_worker.SPLIT_BATCH, options["batch_norm"])
        for name, (_, options) in ddp_worker.SPLITS.items()
    }
    assert covered == {(r, bn) for r in range(2 * WORLD) for bn in (False, True)}
    kinds = [options for _, options in ddp_worker.SPLITS.values()]
    assert any(o.get("early_stopping") and o["batch_norm"] for o in kinds)
    assert any(o.get("decision") == "auto" and o["batch_norm"] for o in kinds)


def test_the_reported_split_trains_the_default_network(ranks):
    # 203 rows in batches of 50 with batch norm: the last batch (3 rows) once gave one
    # process a single row, and batch norm failed there.
    assert ranks[0]["issue"]["history"][-1]["train_batch_count"] == 4
    assert all("error" not in rank["issue"] for rank in ranks)


def test_a_batch_size_giving_a_process_one_row_is_refused(ranks):
    for rank in ranks:
        assert "BatchNorm cannot train on one row" in rank["tiny_batch"]["error"]
        assert "batch_size >= 4" in rank["tiny_batch"]["error"]


@pytest.mark.parametrize("name", ["split_auto", "split_auto_bn"])
def test_auto_fold_models_are_shared_not_repeated(ranks, name):
    # Process r trains folds r, r + world, ...: 3 fold models in all, not 3 per process,
    # each the one-process fit's fold model, so the rule scores equal the one-process ones;
    # the default calibration ("fast") reuses them and trains none of its own.
    assert [rank[name]["fold_fits"] for rank in ranks] == [[0, 2], [1]]
    single = _single(name)
    for rank in ranks:
        assert rank[name]["decision_scores"] == single.decision_scores_
    if not name.endswith("_bn"):  # exact without per-process batch norm
        assert ranks[0][name]["decision"] == single.decision_
        X, _ = ddp_worker.problem(ddp_worker.rows(name))
        np.testing.assert_array_equal(single.predict(X), ranks[0][name]["predict"])


@pytest.mark.parametrize("how", ["die", "raise"])
def test_a_failing_process_stops_the_other_with_a_clear_error(how, tmp_path):
    # Rank 1 dies (os._exit) or raises and lives on in its third epoch. Rank 0 must stop
    # with an error naming the cause within a bounded time, never hang: the closed
    # connection shows at once, the silent peer after MLABNC_DDP_TIMEOUT seconds.
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(sys.path),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
        WORLD_SIZE=str(WORLD),
        MLABNC_DDP_TIMEOUT="10",
    )
    worker = str(Path(__file__).parent / "ddp_worker.py")
    processes = [
        subprocess.Popen(
            [sys.executable, worker, str(tmp_path), how],
            env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(WORLD)
    ]
    try:
        processes[0].wait(timeout=180)  # a hang fails here
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
    seconds, outcome = (tmp_path / "rank0.txt").read_text().split("\n", 1)
    assert outcome.startswith("RuntimeError: Data-parallel training stopped in process 0")
    assert "another process of the group failed, exited or stopped answering" in outcome
    assert float(seconds) < 120
    if how == "die":
        assert processes[1].returncode == 3


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


@pytest.mark.parametrize("setting", ["soon", "0", "-5"])
def test_a_bad_training_timeout_is_refused(setting, monkeypatch):
    from sklearn_mlabnc._parallel import _training_timeout

    monkeypatch.setenv("MLABNC_DDP_TIMEOUT", setting)
    with pytest.raises(ValueError, match="MLABNC_DDP_TIMEOUT must be a positive number"):
        _training_timeout()
