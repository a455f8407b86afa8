"""Scale-out with Dask: collapse statistics of Dask arrays, searches and fits on a cluster.

Every MLab NC metric is a function of per-label-set counts and feature sums plus two
``d x d`` scatter matrices (:class:`~sklearn_mlabnc.collapse.CollapseStatistics`), and two
such statistics merge exactly. That makes the metrics of a data set that does not fit in
memory, or that lives on a cluster, a map-reduce:

- :func:`collapse_statistics_from_dask` / :func:`collapse_report_from_dask`: one
  ``CollapseStatistics`` per row chunk of a ``dask.array`` (or ``dask.dataframe``), built
  on the workers where the chunk lives, then reduced by a *tree* of merges on the cluster
  (``split_every`` statistics per merge); only the final ``O(n_sets * d + d**2)`` object
  travels back to the client. The report is the one
  :func:`~sklearn_mlabnc.collapse.collapse_report` gives on the same data in memory, soft
  IoU (from ``logits`` or ``H W^T + b``) and NC4 (from ``predictions``) included; NC4 needs
  the final label-set means, so it takes a second pass over ``H`` (``persist`` ``H`` first
  when it is expensive to recompute).
- Without Dask, :meth:`CollapseStatistics.from_batches
  <sklearn_mlabnc.collapse.CollapseStatistics.from_batches>` does the same from any
  iterator of ``(H, Y)`` batches, e.g. a ``torch.utils.data.DataLoader`` over a data set
  too large for memory; tensors are reduced on their own device.

Dask is optional and imported only when a Dask function is called; install it with
``pip install sklearn-mlabnc[dask]``. The :mod:`sklearn_mlabnc.collapse` subpackage itself
stays free of any such import.

Hyper-parameter search on a cluster
-----------------------------------
No helper is needed: scikit-learn's searches run their ``(candidate, fold)`` fits through
joblib, and joblib has a Dask backend. Connect a ``distributed.Client`` and fit inside
``joblib.parallel_backend("dask")``::

    from distributed import Client
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV
    from sklearn_mlabnc import MLabNCClassifier
    from sklearn_mlabnc.scorers import nc1_scorer

    client = Client("tcp://scheduler:8786")        # or Client(LocalCluster(...))
    search = GridSearchCV(
        MLabNCClassifier(max_epochs=50, random_state=0),
        {"lr": [1e-3, 3e-3], "feature_decay": [0.0, 1e-3]},
        scoring={"f1": "f1_micro", "nc1": nc1_scorer},  # collapse scorers work as usual
        refit="f1",
    )
    with parallel_backend("dask"):                 # optionally scatter=[X, Y]
        search.fit(X, Y)

Each ``(candidate, fold)`` fit and its scoring is one task on a worker; the final refit
on the best candidate (``refit=...``) runs in the client process, as scikit-learn does it
outside joblib. Leave the search's ``n_jobs`` at ``None`` (or ``-1``):
``n_jobs=1`` silently runs everything in the client process. joblib scatters large
arguments to the workers automatically; ``parallel_backend("dask", scatter=[X, Y])``
broadcasts them once up front. With an ``int`` ``random_state`` the results (scores,
``best_params_``) match a local run up to floating-point rounding between BLAS thread
counts. Give workers one thread each (``--nthreads 1``, or ``threads_per_worker=1``) so that
the torch fits of different tasks do not oversubscribe the cores.

One GPU per worker. Start one single-threaded worker per GPU and pin each to its device:
``dask_cuda.LocalCUDACluster()`` does this on one machine (it sets
``CUDA_VISIBLE_DEVICES`` per worker, rotated, so every worker sees its own GPU as
``cuda:0``); on several machines run
``CUDA_VISIBLE_DEVICES=<i> dask worker tcp://scheduler:8786 --nthreads 1`` once per GPU.
Then use ``MLabNCClassifier(device="cuda")`` (``"auto"`` also picks the worker's GPU):
every trial trains on its worker's GPU, one trial per GPU at a time. CuPy-backed Dask
chunks are handed to :class:`~sklearn_mlabnc.collapse.CollapseStatistics` (and to NC4) as
torch tensors through DLPack, so their statistics are reduced on the GPU and only the small
results reach the host; the soft-IoU pass copies its chunks to the host (this GPU path is
not covered by the CPU test suite).

Training one model on several workers
-------------------------------------
:func:`fit_on_dask` runs one estimator's ``fit`` data-parallel on N workers: they form a
``torch.distributed`` process group and train with ``strategy="ddp"`` (see
:class:`~sklearn_mlabnc.MLabNCClassifier`), and the fitted estimator comes back to the
client.

Examples
--------
>>> import dask
>>> import dask.array as da
>>> import numpy as np
>>> from sklearn_mlabnc.collapse import collapse_report
>>> from sklearn_mlabnc.distributed import collapse_report_from_dask
>>> rng = np.random.default_rng(0)
>>> Y = np.eye(3, dtype=int)[rng.integers(0, 3, size=600)]
>>> H = 4 * Y + rng.normal(size=(600, 3))
>>> with dask.config.set(scheduler="synchronous"):
...     rep = collapse_report_from_dask(da.from_array(H, chunks=100), da.from_array(Y))
>>> bool(np.isclose(rep.nc1, collapse_report(H, Y).nc1, rtol=1e-12))
True
"""

from __future__ import annotations

import math
import numbers
import os
import socket
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from ._parallel import init_process_group
from .collapse import (
    CollapseReport,
    CollapseStatistics,
    CollapseSummary,
    ReportOptions,
    collapse_report,
)
from .collapse._docstrings import REPORT_OPTIONS_DOC, Substitution
from .collapse._geometry import as_host_matrix
from .collapse._labels import is_torch, module_root
from .collapse._outputs import (
    linear_logits,
    nc4_from_summary,
    soft_iou_from_sums,
    soft_iou_sums,
)

__all__ = [
    "collapse_report_from_dask",
    "collapse_statistics_from_dask",
    "fit_on_dask",
]

_DEFAULT_SPLIT_EVERY = 8
_INSTALL_HINT = "pip install sklearn-mlabnc[dask]"


# ------------------------------------------------------------------------ dask plumbing
def _import_dask() -> tuple[ModuleType, ModuleType]:
    """``dask`` and ``dask.array``, or an ImportError that says how to install them."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching
        raise ImportError(
            "This function needs dask (with dask.array); install it with "
            f'`{_INSTALL_HINT}` (or `pip install "dask[array,dataframe]" distributed`).'
        ) from exc
    return dask, da


def _is_dask_collection(x: Any) -> bool:
    return module_root(x) == "dask" and hasattr(x, "__dask_graph__")


def _to_dask_array(x: Any, name: str, da: ModuleType, row_chunks: Any = None) -> Any:
    """A 2-D dask array with known chunk sizes from a dask array/DataFrame or in-memory data."""
    if _is_dask_collection(x) and hasattr(x, "to_dask_array"):  # dask DataFrame / Series
        x = x.to_dask_array(lengths=True)
    elif not isinstance(x, da.Array):
        if is_torch(x):
            x = x.detach().cpu().numpy()
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D; got shape {x.shape}")
        if row_chunks is None or x.shape[0] != sum(row_chunks):
            row_chunks = "auto"  # a row-count mismatch is reported by the caller
        x = da.from_array(x, chunks=(row_chunks, -1))
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D dask array; got {x.ndim} dimension(s)")
    if any(math.isnan(c) for c in x.chunks[0]) or any(math.isnan(c) for c in x.chunks[1]):
        x = x.compute_chunk_sizes()
    return x


def _aligned(H: Any, others: dict[str, Any], da: ModuleType) -> tuple[Any, dict[str, Any]]:
    """``H`` with one column chunk, and every other array rechunked to H's row chunks."""
    H = _to_dask_array(H, "H", da)
    if H.numblocks[1] > 1:
        H = H.rechunk({1: -1})
    out = {}
    for name, x in others.items():
        if x is None:
            out[name] = None
            continue
        x = _to_dask_array(x, name, da, row_chunks=H.chunks[0])
        if x.shape[0] != H.shape[0]:
            raise ValueError(
                f"H has {H.shape[0]} rows but {name} has {x.shape[0]}; they must match"
            )
        if x.chunks[0] != H.chunks[0] or x.numblocks[1] > 1:
            x = x.rechunk((H.chunks[0], -1))
        out[name] = x
    return H, out


def _row_blocks(x: Any) -> list[Any]:
    """One ``Delayed`` per row chunk of a 2-D dask array with a single column chunk."""
    return list(x.to_delayed().ravel())


def _tree_reduce(dask: ModuleType, parts: list[Any], combine: Callable, split_every: int) -> Any:
    """Reduce a list of Delayed with ``combine(*group)`` on groups of ``split_every``."""
    while len(parts) > 1:
        parts = [
            dask.delayed(combine, pure=True)(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


# ------------------------------------------------------------- tasks run on the workers
def _host_or_device(x: Any) -> Any:
    """Chunks CollapseStatistics accepts: CuPy chunks become torch tensors via DLPack."""
    if module_root(x) == "cupy":  # pragma: no cover - needs a GPU
        import torch

        return torch.from_dlpack(x)
    return x


def _to_host(x: Any) -> Any:
    if module_root(x) == "cupy":  # pragma: no cover - needs a GPU
        return x.get()
    return x


def _chunk_statistics(h: Any, y: Any, dtype: Any) -> CollapseStatistics:
    return CollapseStatistics(dtype=dtype).partial_fit(_host_or_device(h), _host_or_device(y))


def _merge_statistics(*parts: CollapseStatistics) -> CollapseStatistics:
    out = CollapseStatistics(dtype=parts[0].dtype)  # never mutate an input (shared keys)
    for p in parts:
        out.merge(p)
    return out


def _sum_arrays(*parts: np.ndarray) -> np.ndarray:
    return np.sum(parts, axis=0)


def _soft_iou_block(
    h: Any, y: Any, z: Any, W: np.ndarray | None, b: np.ndarray | None
) -> np.ndarray:
    """``[sum of softmax mass on the true set, number of non-empty rows]`` of one chunk."""
    h, y, z = _to_host(h), _to_host(y), _to_host(z)
    if z is None:
        z = linear_logits(h, W, b)
    total, kept = soft_iou_sums(z, y)
    return np.array([total, float(kept)])


def _nc4_block(h: Any, p: Any, summary: CollapseSummary) -> np.ndarray:
    """``[agreements, rows]`` of one chunk against the final label-set means."""
    n = int(h.shape[0])
    if n == 0:
        return np.zeros(2)
    agree = nc4_from_summary(summary, _host_or_device(h), _host_or_device(p), 8192)
    return np.array([round(agree * n), float(n)])


# --------------------------------------------------------------------------- public API
@validate_params(
    {"split_every": [None, Interval(numbers.Integral, 2, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def collapse_statistics_from_dask(
    H: Any,
    Y: Any,
    *,
    split_every: int | None = None,
    dtype: Any = np.float64,
    scheduler: str | None = None,
) -> CollapseStatistics:
    """Collapse statistics of a Dask array, reduced by a tree of merges on the cluster.

    One :class:`~sklearn_mlabnc.collapse.CollapseStatistics` is built per row chunk of
    ``H`` (on the worker that holds it); they are merged ``split_every`` at a time, level by
    level, on the workers; only the final statistics object (``O(n_sets * d + d**2)``
    numbers) is sent to the client. ``Y`` is rechunked to ``H``'s row chunks so the chunks
    align; columns are gathered into one chunk per row block.

    Parameters
    ----------
    H : dask.array.Array, dask.dataframe.DataFrame or array-like of shape (n, d)
        Features. DataFrames are converted with ``to_dask_array(lengths=True)``; arrays with
        unknown chunk sizes get them computed; in-memory data is wrapped with
        ``dask.array.from_array``.
    Y : dask.array.Array, dask.dataframe.DataFrame or array-like of shape (n, K)
        0/1 label indicator.
    split_every : int >= 2, default=None
        Statistics merged per task of the reduction tree (``None``: 8).
    dtype : numpy dtype, default=np.float64
        Accumulation dtype of the per-chunk statistics.
    scheduler : str, optional
        Passed to ``dask.compute`` (e.g. ``"synchronous"``); ``None`` uses the active
        scheduler, i.e. the ``distributed.Client`` when one is connected.

    Returns
    -------
    stats : CollapseStatistics
        The merged statistics, equal up to rounding to
        ``CollapseStatistics().partial_fit(H, Y)`` on the data in memory.

    Raises
    ------
    ImportError
        When dask is not installed.
    ValueError
        When ``H`` and ``Y`` are not 2-D or their row counts differ (and, from the
        workers, on the errors of :meth:`~sklearn_mlabnc.collapse.CollapseStatistics.partial_fit`).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn_mlabnc.distributed import collapse_statistics_from_dask
    >>> Y = np.array([[1, 0], [0, 1], [1, 1]] * 100)
    >>> H = da.from_array(Y @ np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 2.0]]), chunks=50)
    >>> stats = collapse_statistics_from_dask(H, Y, split_every=2, scheduler="sync")
    >>> stats.n_samples_, stats.counts_.tolist()
    (300, [100, 100, 100])
    >>> stats.means_.round(6).tolist()
    [[1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [1.0, 1.0, 4.0]]
    """
    dask, da = _import_dask()
    split = _DEFAULT_SPLIT_EVERY if split_every is None else int(split_every)
    H, o = _aligned(H, {"Y": Y}, da)
    tree = _statistics_tree(dask, H, o["Y"], split, dtype)
    (stats,) = dask.compute(tree, scheduler=scheduler)
    return stats


def _statistics_tree(dask: ModuleType, H: Any, Y: Any, split: int, dtype: Any) -> Any:
    parts = [
        dask.delayed(_chunk_statistics, pure=True)(h, y, dtype)
        for h, y in zip(_row_blocks(H), _row_blocks(Y), strict=True)
    ]
    return _tree_reduce(dask, parts, _merge_statistics, split)


@validate_params(
    {
        "split_every": [None, Interval(numbers.Integral, 2, None, closed="left")],
        "options": [None, ReportOptions],
    },
    prefer_skip_nested_validation=True,
)
@Substitution(report_options=REPORT_OPTIONS_DOC)
def collapse_report_from_dask(
    H: Any,
    Y: Any,
    W: Any = None,
    b: Any = None,
    *,
    logits: Any = None,
    predictions: Any = None,
    split_every: int | None = None,
    scheduler: str | None = None,
    options: ReportOptions | None = None,
    **kwargs: Any,
) -> CollapseReport:
    """All MLab NC metrics of Dask features, as :func:`~sklearn_mlabnc.collapse.collapse_report`.

    The statistics are reduced on the cluster (see :func:`collapse_statistics_from_dask`);
    in the same pass each chunk also contributes the two partial sums of the soft IoU
    (from ``logits``, else from ``H W^T + b`` when ``W`` is given). NC4 compares every
    sample's nearest label-set mean with ``predictions`` and so needs the final means: it
    is a second pass over ``H`` (call ``H = H.persist()`` first when ``H`` is expensive to
    recompute). The client only receives the statistics and a few numbers.

    Parameters
    ----------
    H : dask.array.Array, dask.dataframe.DataFrame or array-like of shape (n, d)
        Features.
    Y : dask.array.Array, dask.dataframe.DataFrame or array-like of shape (n, K)
        0/1 label indicator.
    W : array-like of shape (K, d), optional
        Classifier weights (NC2 of the classifier, NC3, soft IoU).
    b : array-like of shape (K,), optional
        Classifier bias.
    logits : dask or in-memory array of shape (n, K), optional
        Logits for the soft IoU (default: ``H W^T + b`` if ``W`` is given).
    predictions : dask or in-memory array of shape (n, K), optional
        Predicted 0/1 label sets for NC4.
    split_every : int >= 2, default=None
        Fan-in of the reduction trees (``None``: 8).
    scheduler : str, optional
        Passed to ``dask.compute``; ``None`` uses the active scheduler / client.
    options : ReportOptions, default=None
        The conventions at once; keyword arguments override them.
    {report_options}

    Returns
    -------
    report : CollapseReport
        The same report as ``collapse_report(H, Y, W, b, ...)`` on the data in memory, up
        to floating-point rounding.

    Raises
    ------
    ImportError
        When dask is not installed.

    Examples
    --------
    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import collapse_report
    >>> from sklearn_mlabnc.distributed import collapse_report_from_dask
    >>> U = np.eye(3) - 1 / 3
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]] * 50)
    >>> H = Y @ U * np.where(Y.sum(1) == 1, 1.0, 0.35)[:, None]
    >>> H = H + 0.01 * np.random.default_rng(0).normal(size=H.shape)
    >>> with dask.config.set(scheduler="threads"):
    ...     rep = collapse_report_from_dask(
    ...         da.from_array(H, chunks=64), da.from_array(Y), W=U, predictions=Y
    ...     )
    >>> ref = collapse_report(H, Y, W=U, predictions=Y)
    >>> bool(np.isclose(rep.nc1, ref.nc1)), bool(np.isclose(rep.soft_iou, ref.soft_iou))
    (True, True)
    >>> rep.nc4, round(rep.c_m[2], 2)
    (1.0, 0.7)
    """
    dask, da = _import_dask()
    split = _DEFAULT_SPLIT_EVERY if split_every is None else int(split_every)
    opts = ReportOptions.from_kwargs(options, **kwargs)  # fail before any computation
    H, o = _aligned(H, {"Y": Y, "logits": logits, "predictions": predictions}, da)
    d, K = int(H.shape[1]), int(o["Y"].shape[1])
    Wm = _host_array(W, (K, d), "W")
    bv = _host_array(b, (K,), "b")
    tree = _statistics_tree(dask, H, o["Y"], split, np.float64)
    iou = None
    if o["logits"] is not None or Wm is not None:
        zs = [None] * H.numblocks[0] if o["logits"] is None else _row_blocks(o["logits"])
        parts = [
            dask.delayed(_soft_iou_block, pure=True)(h, y, z, Wm, bv)
            for h, y, z in zip(_row_blocks(H), _row_blocks(o["Y"]), zs, strict=True)
        ]
        iou = _tree_reduce(dask, parts, _sum_arrays, split)
    stats, iou_sums = dask.compute(tree, iou, scheduler=scheduler)
    rep = collapse_report(stats, W=Wm, b=bv, options=opts)

    soft = math.nan
    if iou_sums is not None:
        soft = soft_iou_from_sums(float(iou_sums[0]), int(iou_sums[1]))
    agree = math.nan
    if o["predictions"] is not None:
        P = o["predictions"]
        if P.shape[1] != K:
            raise ValueError(f"predictions must have shape ({H.shape[0]}, {K}); got {P.shape}")
        # the frozen summary: one key, shipped once, not re-derived per chunk
        summary_d = dask.delayed(stats.summary(), traverse=False)
        parts = [
            dask.delayed(_nc4_block, pure=True)(h, p, summary_d)
            for h, p in zip(_row_blocks(H), _row_blocks(P), strict=True)
        ]
        (counts,) = dask.compute(
            _tree_reduce(dask, parts, _sum_arrays, split), scheduler=scheduler
        )
        agree = float(counts[0] / counts[1]) if counts[1] else math.nan
    return replace(rep, soft_iou=soft, nc4=agree)


def _host_array(A: Any, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    if A is None:
        return None
    if _is_dask_collection(A):
        A = A.compute()
    return as_host_matrix(A, shape, name)


# ------------------------------------------------------------- data-parallel training
@validate_params(
    {
        "estimator": [HasMethods(["fit", "set_params"])],
        "n_workers": [None, Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def fit_on_dask(estimator: Any, X: Any, y: Any, *, client: Any = None, n_workers=None) -> Any:
    """Fit an estimator data-parallel on Dask workers, one ``torch.distributed`` process each.

    The workers form a process group (gloo for CPU tensors, NCCL for CUDA ones when the
    workers have GPUs), each runs ``fit`` with ``strategy="ddp"`` on the same ``X, y``
    (scattered to them once), and rank 0's fitted estimator, the same as every rank's, is
    returned. The result equals a one-process fit up to rounding for backbones without
    BatchNorm or dropout (see the user guide's scaling page). Each worker must be its own
    process (``processes=True``, one thread per worker is best); give each its own GPU
    with ``dask_cuda.LocalCUDACluster`` or ``CUDA_VISIBLE_DEVICES``. A model trained on
    GPU workers comes back with its tensors on the GPU.

    Parameters
    ----------
    estimator : MLabNCClassifier
        The estimator to fit (left unchanged: a fitted copy is returned).
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Training inputs.
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Targets.
    client : distributed.Client, default=None
        The cluster's client; ``None`` uses the current default client.
    n_workers : int, default=None
        Number of workers (processes) to train on; ``None`` uses every worker.

    Returns
    -------
    estimator : MLabNCClassifier
        A fitted copy of ``estimator`` (with ``strategy="ddp"``).

    Examples
    --------
    >>> import functools
    >>> import numpy as np
    >>> from distributed import Client, LocalCluster
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc.backbones import MLP
    >>> from sklearn_mlabnc.distributed import fit_on_dask
    >>> X = np.random.default_rng(0).normal(size=(64, 4))
    >>> Y = (X[:, :3] > 0).astype(int)
    >>> clf = MLabNCClassifier(
    ...     functools.partial(MLP, hidden_layer_sizes=(8,), batch_norm=False),
    ...     max_epochs=2, random_state=0,
    ... )
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1)  # doctest: +SKIP
    >>> with Client(cluster) as client:  # doctest: +SKIP
    ...     fitted = fit_on_dask(clf, X, Y, client=client)
    >>> fitted.predict(X[:2]).shape  # doctest: +SKIP
    (2, 3)

    The cluster lines are skipped by the documentation tests (starting worker processes
    takes seconds); ``tests/test_parallel.py`` runs the same call.
    """
    from distributed import default_client
    from distributed.comm import get_address_host
    from sklearn.base import clone

    client = default_client() if client is None else client
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    n_workers = len(workers) if n_workers is None else n_workers
    if not workers or n_workers > len(workers):
        raise ValueError(
            f"fit_on_dask needs {n_workers} workers; the cluster has {len(workers)}. Start "
            "more workers or pass a smaller n_workers."
        )
    workers = workers[:n_workers]
    pids = client.run(os.getpid, workers=workers)
    if len(set(pids.values())) < len(workers):
        raise ValueError(
            "fit_on_dask needs each worker in its own process (a process joins one "
            "torch.distributed group); start the cluster with processes=True, e.g. "
            "LocalCluster(processes=True, threads_per_worker=1)."
        )
    host = get_address_host(workers[0])
    port = client.run(_free_port, host, workers=[workers[0]])[workers[0]]
    address = f"tcp://{host}:{port}"
    estimator = clone(estimator).set_params(strategy="ddp")
    X_remote, y_remote = client.scatter([X, y], workers=workers, broadcast=True)
    futures = [
        client.submit(
            _fit_rank,
            estimator,
            X_remote,
            y_remote,
            rank,
            len(workers),
            address,
            workers=[worker],
            allow_other_workers=False,
            pure=False,
        )
        for rank, worker in enumerate(workers)
    ]
    return client.gather(futures)[0]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _fit_rank(estimator: Any, X: Any, y: Any, rank: int, world: int, address: str) -> Any:
    """One rank of :func:`fit_on_dask`, run on a worker: join the group, fit, leave."""
    import torch.distributed as dist

    init_process_group(address, rank=rank, world_size=world)
    try:
        estimator.fit(X, y)
    finally:
        dist.destroy_process_group()
    return estimator if rank == 0 else None
