"""Tests of sklearn_mlabnc.distributed on a real (loopback) dask.distributed cluster."""

import math
import sys
import time
import warnings

import numpy as np
import pytest

pytest.importorskip(
    "dask", reason="the dask extra is not installed (pip install sklearn-mlabnc[dask])"
)
pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install sklearn-mlabnc[dask])"
)

import cloudpickle  # a dependency of dask
import dask
import dask.array as da
import torch
from distributed import Client, LocalCluster, get_task_stream, wait
from joblib import parallel_backend
from scipy.stats import loguniform
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from threadpoolctl import threadpool_limits

from sklearn_mlabnc import MLabNCClassifier
from sklearn_mlabnc.collapse import CollapseStatistics, collapse_report
from sklearn_mlabnc.distributed import (
    collapse_report_from_dask,
    collapse_statistics_from_dask,
)
from sklearn_mlabnc.scorers import nc1_scorer

# The block generators below run on the worker processes: ship them by value, so the
# workers need not import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# ----------------------------------------------------------------------------- data
N_CHUNKS, CHUNK, D, K = 16, 62_500, 64, 8  # 10**6 x 64 float64 = 512 MB
SEED = 2024
_R = np.random.default_rng(12345)
MEANS = 3.0 * _R.normal(size=(K, D))
W_CLF = _R.normal(size=(K, D)) / 8
B_CLF = _R.normal(size=K)
OFFSET = 50.0  # a large common offset exercises the shifted accumulation


def _labels(block: int, n: int) -> np.ndarray:
    """Deterministic label sets of multiplicity 1..3 over K labels for one block."""
    rng = np.random.default_rng([SEED, block, 0])
    m = rng.integers(1, 4, size=n)
    keys = rng.random((n, K))
    kth = np.sort(keys, axis=1)[np.arange(n), m - 1]
    return keys <= kth[:, None]


def _features(block: int, n: int) -> np.ndarray:
    Y = _labels(block, n)
    m = Y.sum(axis=1)
    H = (Y @ MEANS) * (0.8 / m)[:, None]
    H += OFFSET
    H += np.random.default_rng([SEED, block, 1]).standard_normal((n, D))
    return H


def _predictions(block: int, n: int) -> np.ndarray:
    Y = _labels(block, n)
    flip = np.random.default_rng([SEED, block, 2]).random(n) < 0.1
    Y[flip] = np.roll(Y[flip], 1, axis=1)
    return Y


def _lazy(func, ncols, dtype):
    """A lazy (N_CHUNKS * CHUNK, ncols) dask array whose block i is func(i, CHUNK)."""
    idx = da.arange(N_CHUNKS, chunks=1)
    return idx.map_blocks(
        lambda i: func(int(i[0]), CHUNK),
        new_axis=1,
        chunks=((CHUNK,) * N_CHUNKS, (ncols,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def _in_memory(func, ncols, dtype):
    out = np.empty((N_CHUNKS * CHUNK, ncols), dtype=dtype)
    for i in range(N_CHUNKS):
        out[i * CHUNK : (i + 1) * CHUNK] = func(i, CHUNK)
    return out


def _assert_reports_agree(a, b, rtol):
    da_, db_ = a.to_dict(), b.to_dict()
    assert da_.keys() == db_.keys()
    worst = 0.0
    for key, va in da_.items():
        vb = db_[key]
        if isinstance(va, float) or isinstance(vb, float):
            if math.isnan(va) or math.isnan(vb):
                assert math.isnan(va) and math.isnan(vb), (key, va, vb)
                continue
            err = abs(va - vb) / max(abs(va), abs(vb), 1e-300)
            worst = max(worst, err)
            assert err <= rtol, (key, va, vb, err)
        else:
            assert va == vb, (key, va, vb)
    assert a.nc_m.keys() == b.nc_m.keys() and a.c_m.keys() == b.c_m.keys()
    for m in a.nc_m:
        np.testing.assert_allclose(a.nc_m[m], b.nc_m[m], rtol=rtol, atol=0)
        np.testing.assert_allclose(a.c_m[m], b.c_m[m], rtol=rtol, atol=0)
    assert a.notes == b.notes
    return worst


# --------------------------------------------------------------------------- cluster
@pytest.fixture(scope="module")
def client():
    """One real two-process cluster on loopback for the whole module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. port-in-use notices from the scheduler
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


# -------------------------------------------------------------- collapse statistics
def test_distributed_report_matches_in_memory_on_a_million_rows(client):
    # generated on the workers and kept there (NC4 takes a second pass over H); the
    # client never holds the data
    t0 = time.perf_counter()
    H, Y, P = dask.persist(
        _lazy(_features, D, np.float64), _lazy(_labels, K, bool), _lazy(_predictions, K, bool)
    )
    wait([H, Y, P])
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    with get_task_stream(client) as ts:
        rep = collapse_report_from_dask(H, Y, W=W_CLF, b=B_CLF, predictions=P, split_every=4)
    t_dask = time.perf_counter() - t0
    workers = {t["worker"] for t in ts.data}
    assert len(workers) == 2  # both worker processes did work
    merges = [t for t in ts.data if "_merge_statistics" in str(t["key"])]
    assert len(merges) == 4 + 1  # 16 chunk statistics -> 4 merges -> 1 merge

    # The in-memory reference, single-threaded BLAS like the workers (a multi-threaded
    # OpenBLAS on an oversubscribed machine is many times slower).
    t0 = time.perf_counter()
    with threadpool_limits(1):
        Hm = _in_memory(_features, D, np.float64)
        Ym = _in_memory(_labels, K, bool)
        Pm = _in_memory(_predictions, K, bool)
        ref = collapse_report(Hm, Ym, W=W_CLF, b=B_CLF, predictions=Pm)
    t_mem = time.perf_counter() - t0

    assert rep.n_samples == 10**6 and rep.n_features == D and rep.n_labels == K
    assert set(rep.nc_m) == {2, 3}
    for key in ("nc1", "nc2_means", "nc2_classifier", "nc3", "nc4", "soft_iou"):
        assert np.isfinite(getattr(rep, key)), key
    worst = _assert_reports_agree(rep, ref, rtol=1e-10)
    print(
        f"\n1e6 x 64: generate+persist on workers {t_gen:.2f}s, distributed report "
        f"{t_dask:.2f}s, in-memory generate+report {t_mem:.2f}s, worst rel. diff {worst:.2e}"
    )


def test_dask_inputs_dataframe_misaligned_and_in_memory():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    Y = _labels(3, 3000).astype(int)
    H = _features(3, 3000)[:, :10]
    ref = collapse_report(H, Y)
    with dask.config.set(scheduler="sync"):
        Hdf = dd.from_pandas(pd.DataFrame(H), npartitions=5)  # unknown chunk sizes
        Ydf = dd.from_pandas(pd.DataFrame(Y), npartitions=3)
        for h, y in [
            (Hdf, Ydf),
            (da.from_array(H, chunks=(700, 4)), da.from_array(Y, chunks=(1100, 3))),
            (da.from_array(H, chunks=(512, 10)), Y),
            (H, Y),
        ]:
            for split in (2, 3, None):
                rep = collapse_report_from_dask(h, y, split_every=split)
                _assert_reports_agree(rep, ref, rtol=1e-10)
        stats = collapse_statistics_from_dask(Hdf, Ydf, split_every=2)
        mem = CollapseStatistics().partial_fit(H, Y)
        np.testing.assert_array_equal(stats.label_sets_, mem.label_sets_)
        np.testing.assert_array_equal(stats.counts_, mem.counts_)
        np.testing.assert_allclose(stats.means_, mem.means_, rtol=1e-12)
        # logits instead of W; a torch W
        Z = rng.normal(size=(3000, K))
        rep = collapse_report_from_dask(da.from_array(H, chunks=400), Y, logits=Z)
        assert np.isclose(rep.soft_iou, collapse_report(H, Y, logits=Z).soft_iou, rtol=1e-12)
        W = rng.normal(size=(K, 10))
        rep = collapse_report_from_dask(H, Y, W=torch.from_numpy(W), predictions=Y)
        _assert_reports_agree(rep, collapse_report(H, Y, W=W, predictions=Y), rtol=1e-10)


def test_dask_argument_errors():
    H = da.zeros((10, 3), chunks=5)
    with pytest.raises(ValueError, match="rows"):
        collapse_statistics_from_dask(H, np.eye(3)[[0] * 9], scheduler="sync")
    with pytest.raises(ValueError, match="split_every"):
        collapse_statistics_from_dask(H, np.ones((10, 1)), split_every=1)
    with pytest.raises(TypeError, match="split_every"):
        collapse_statistics_from_dask(H, np.ones((10, 1)), split_every=2.5)
    with pytest.raises(ValueError, match="2-D"):
        collapse_statistics_from_dask(da.zeros(10, chunks=5), np.ones((10, 1)))
    with pytest.raises(ValueError, match="W must have shape"):
        collapse_report_from_dask(H, np.ones((10, 1)), W=np.ones((2, 3)), scheduler="sync")


def test_missing_dask_gives_install_hint(monkeypatch):
    for name in ("dask", "dask.array"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install sklearn-mlabnc\[dask\]"):
        collapse_statistics_from_dask(np.zeros((2, 2)), np.eye(2))


# ----------------------------------------------------------- hyper-parameter search
def _search_data():
    rng = np.random.default_rng(0)
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]] * 16)
    X = Y @ rng.normal(size=(3, 6)) + 0.3 * rng.normal(size=(len(Y), 6))
    return X, Y


SCORING = {"f1": "f1_micro", "nc1": nc1_scorer}
TINY = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=5, random_state=0, device="cpu")


def _assert_same_search(local, remote):
    assert remote.best_params_ == local.best_params_
    assert remote.best_index_ == local.best_index_
    assert [str(p) for p in remote.cv_results_["params"]] == [
        str(p) for p in local.cv_results_["params"]
    ]
    keys = [k for k in local.cv_results_ if "test_" in k and not k.startswith("rank")]
    assert {"mean_test_f1", "mean_test_nc1", "split0_test_nc1"} <= set(keys)
    for k in keys:
        np.testing.assert_allclose(remote.cv_results_[k], local.cv_results_[k], rtol=1e-5)
        assert np.all(np.isfinite(remote.cv_results_[k])), k


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_search_on_the_cluster_matches_local(client, kind):
    X, Y = _search_data()
    if kind == "grid":
        grid = {"lr": [1e-2, 3e-2], "feature_decay": [0.0, 1e-3]}

        def make():
            return GridSearchCV(TINY, grid, scoring=SCORING, refit="f1", cv=2)
    else:
        dist = {"lr": loguniform(3e-3, 1e-1), "hidden_layer_sizes": [(8,), (16,)]}

        def make():
            return RandomizedSearchCV(
                TINY, dist, n_iter=3, scoring=SCORING, refit="f1", cv=2, random_state=0
            )

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # like the workers (OMP_NUM_THREADS=1)
    try:
        local = make().fit(X, Y)
    finally:
        torch.set_num_threads(n_threads)
    remote = make()
    with get_task_stream(client) as ts, parallel_backend("dask"):
        remote.fit(X, Y)
    n_fits = len(remote.cv_results_["params"]) * 2
    assert len({t["worker"] for t in ts.data}) >= 1 and len(ts.data) >= n_fits
    _assert_same_search(local, remote)
    assert remote.best_estimator_.predict(X).shape == Y.shape
