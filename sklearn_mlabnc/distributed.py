"""Scale-out: collapse statistics from Dask or from batch iterators, and searches on a cluster.

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
- :func:`collapse_statistics_from_batches`: the same from any iterator of ``(H, Y)``
  batches, e.g. a ``torch.utils.data.DataLoader`` over a data set too large for memory;
  tensors are reduced on their own device. Needs no Dask.

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

Design note: training one model on several GPUs
-----------------------------------------------
The above parallelises *across* models (trials, folds). Data-parallel training of *one*
``MLabNCClassifier`` on several GPUs is not provided; what it would take:

- Mechanism. skorch's :class:`skorch.hf.AccelerateMixin` (``class Net(AccelerateMixin,
  NeuralNet)``, launched with ``accelerate launch``) wraps the module, optimizer and data in
  Hugging Face Accelerate, i.e. torch ``DistributedDataParallel`` (DDP) underneath; plain
  DDP (``torchrun`` + ``init_process_group``) is the alternative. Either way ``fit`` runs
  once per rank (process), which does not fit scikit-learn's one-call ``fit``: it belongs in
  a launched script (or in one Dask task per rank, e.g. with ``dask-pytorch-ddp``), not in a
  ``GridSearchCV``.
- The estimator builds a ``FastNeuralNet`` in ``_build_net``; it needs a hook (a ``strategy``
  / ``accelerator`` parameter) to compose ``AccelerateMixin`` in front of it.
- Data: training batches come from ``TensorBatches`` / ``BatchIterator`` (whole-batch
  ``index_select``, not a ``DataLoader``), so Accelerate's sampler sharding does not apply;
  each rank must take its shard of the same seeded permutation (``perm[rank::world]``).
  The early-stopping split is seeded by ``random_state`` and is therefore already identical
  on every rank.
- Loss semantics: PAL is a per-batch *mean*, so DDP's gradient averaging over equal shards
  reproduces the global batch; the feature penalty ``feature_decay * ||H_batch||_F^2`` is a
  batch *sum*, so it must be multiplied by the world size to keep its single-GPU meaning.
  The effective batch is ``batch_size * world_size`` (scale ``lr`` or split the batch).
- Synchronisation: the epoch losses ``FastNeuralNet`` accumulates on the device, the
  validation loss used by early stopping and any stopping decision must be all-reduced, or
  ranks stop at different epochs and deadlock. Backbones with BatchNorm (``ResNet18``) need
  ``SyncBatchNorm``. Threshold tuning after training, checkpointing and pickling happen on
  the main process on the unwrapped module.
- Collapse monitoring is the easy part: each rank accumulates its own
  ``CollapseStatistics`` and ``torch.distributed.all_gather_object`` + ``sum(...)`` merges
  them exactly, which is what mergeable statistics are for.
- Tests can run without GPUs: DDP with the ``gloo`` backend on two CPU processes.
  Estimated effort: a ``strategy`` parameter plus rank-aware batching and reductions, a
  few hundred lines, with a two-process CPU test.

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
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from .collapse import CollapseReport, CollapseStatistics, nc4

__all__ = [
    "collapse_report_from_dask",
    "collapse_statistics_from_batches",
    "collapse_statistics_from_dask",
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
    return type(x).__module__.split(".")[0] == "dask" and hasattr(x, "__dask_graph__")


def _to_dask_array(x: Any, name: str, da: ModuleType, row_chunks: Any = None) -> Any:
    """A 2-D dask array with known chunk sizes from a dask array/DataFrame or in-memory data."""
    if _is_dask_collection(x) and hasattr(x, "to_dask_array"):  # dask DataFrame / Series
        x = x.to_dask_array(lengths=True)
    elif not isinstance(x, da.Array):
        if type(x).__module__.split(".")[0] == "torch":
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


def _check_split_every(split_every: int | None) -> int:
    if split_every is None:
        return _DEFAULT_SPLIT_EVERY
    if isinstance(split_every, bool) or not isinstance(split_every, (int, np.integer)):
        raise TypeError(f"split_every must be an int >= 2 or None; got {split_every!r}")
    if split_every < 2:
        raise ValueError(f"split_every must be >= 2; got {split_every}")
    return int(split_every)


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
    if type(x).__module__.split(".")[0] == "cupy":  # pragma: no cover - needs a GPU
        import torch

        return torch.from_dlpack(x)
    return x


def _to_host(x: Any) -> Any:
    if type(x).__module__.split(".")[0] == "cupy":  # pragma: no cover - needs a GPU
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
        z = np.asarray(h, dtype=np.float64) @ W.T + b
    z = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(z)):
        raise ValueError("scores contain NaN or infinity")
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    yb = np.asarray(y) != 0
    keep = yb.any(axis=1)
    return np.array([float((p * yb).sum(axis=1)[keep].sum()), float(keep.sum())])


def _nc4_block(h: Any, p: Any, stats: CollapseStatistics) -> np.ndarray:
    """``[agreements, rows]`` of one chunk against the final label-set means."""
    n = int(h.shape[0])
    if n == 0:
        return np.zeros(2)
    agree = nc4(stats, predictions=_host_or_device(p), H=_host_or_device(h))
    return np.array([round(agree * n), float(n)])


# --------------------------------------------------------------------------- public API
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
        workers, on the errors of :meth:`CollapseStatistics.partial_fit`).

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
    split = _check_split_every(split_every)
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
    **options: Any,
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
    **options
        Metric conventions of :func:`~sklearn_mlabnc.collapse.collapse_report`
        (``classes``, ``inverse``, ``global_mean``, ``centered``, ``tagwise_centered``,
        ``max_subsets``, ``random_state``).

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
    split = _check_split_every(split_every)
    H, o = _aligned(H, {"Y": Y, "logits": logits, "predictions": predictions}, da)
    d, K = int(H.shape[1]), int(o["Y"].shape[1])
    Wm = _host_array(W, (K, d), "W")
    bv = _host_array(b, (K,), "b")
    tree = _statistics_tree(dask, H, o["Y"], split, np.float64)
    iou = None
    if o["logits"] is not None or Wm is not None:
        bias = np.zeros(K) if bv is None else bv
        zs = [None] * H.numblocks[0] if o["logits"] is None else _row_blocks(o["logits"])
        parts = [
            dask.delayed(_soft_iou_block, pure=True)(h, y, z, Wm, bias)
            for h, y, z in zip(_row_blocks(H), _row_blocks(o["Y"]), zs, strict=True)
        ]
        iou = _tree_reduce(dask, parts, _sum_arrays, split)
    stats, iou_sums = dask.compute(tree, iou, scheduler=scheduler)
    rep = stats.report(W=Wm, b=bv, **options)

    soft = math.nan
    if iou_sums is not None:
        total, kept = (float(v) for v in iou_sums)
        if kept == 0:
            warnings.warn(
                "soft IoU is NaN: no sample has a non-empty label set", RuntimeWarning, 2
            )
        else:
            soft = total / kept
    agree = math.nan
    if o["predictions"] is not None:
        P = o["predictions"]
        if P.shape[1] != K:
            raise ValueError(f"predictions must have shape ({H.shape[0]}, {K}); got {P.shape}")
        stats_d = dask.delayed(stats, traverse=False)  # one key, shipped once
        parts = [
            dask.delayed(_nc4_block, pure=True)(h, p, stats_d)
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
    if type(A).__module__.split(".")[0] == "torch":
        A = A.detach().cpu().double().numpy()
    if _is_dask_collection(A):
        A = A.compute()
    A = np.asarray(A, dtype=np.float64)
    if A.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (K, d of H and Y); got {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity")
    return A


def collapse_statistics_from_batches(
    batches: Iterable[Sequence[Any]],
    *,
    transform: Callable[[Any], Any] | None = None,
    dtype: Any = np.float64,
) -> CollapseStatistics:
    """Collapse statistics accumulated over an iterator of ``(H, Y)`` batches.

    Works with any iterable of pairs: a ``torch.utils.data.DataLoader`` over a data set
    that does not fit in memory, a generator reading files, a list. Each batch goes
    through :meth:`CollapseStatistics.partial_fit`, so torch tensors are reduced on their
    own device and memory stays ``O(n_sets * d + d**2)``. Needs no Dask.

    Parameters
    ----------
    batches : iterable of (H, Y) pairs
        ``H`` of shape ``(batch, d)`` (numpy, scipy sparse or torch) and ``Y`` the
        matching ``(batch, K)`` 0/1 indicator. Extra items after the first two (e.g.
        sample weights) are ignored.
    transform : callable, optional
        Applied to the first item of every batch to get the features, e.g. a fitted
        network's feature extractor when the loader yields raw inputs ``(X, Y)``.
    dtype : numpy dtype, default=np.float64
        Accumulation dtype.

    Returns
    -------
    stats : CollapseStatistics
        The accumulated statistics; ``stats.report(W, b)`` gives the metrics.

    Raises
    ------
    ValueError
        If ``batches`` is empty or a batch is not an ``(H, Y)`` pair.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from sklearn_mlabnc.distributed import collapse_statistics_from_batches
    >>> Y = torch.eye(2).repeat(50, 1)
    >>> H = 3 * Y + 0.1 * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    >>> loader = DataLoader(TensorDataset(H, Y), batch_size=32)
    >>> stats = collapse_statistics_from_batches(loader)
    >>> stats.n_samples_, stats.counts_.tolist()
    (100, [50, 50])
    >>> bool(stats.report().nc1 < 0.01)
    True
    """
    stats = CollapseStatistics(dtype=dtype)
    seen = False
    for i, batch in enumerate(batches):
        if isinstance(batch, dict) or not isinstance(batch, Sequence) or len(batch) < 2:
            raise ValueError(
                f"batch {i} is a {type(batch).__name__}; expected an (H, Y) pair "
                "(a tuple or list whose first two items are the features and the indicator)"
            )
        h, y = batch[0], batch[1]
        if transform is not None:
            h = transform(h)
        stats.partial_fit(h, y)
        seen = True
    if not seen:
        raise ValueError("batches is empty: no (H, Y) pair to accumulate")
    return stats
