"""Training strategies of the estimator's ``fit``: one process, or data-parallel over DDP.

The estimator runs its fit through a strategy from :data:`STRATEGIES`: how the seed is
drawn, which device the network is built on and how the prepared batches are trained.
``"single"`` is the plain one-process fit. ``"ddp"`` runs the same ``fit`` in every process
of a ``torch.distributed`` process group (started by ``torchrun``, ``accelerate launch`` or
:func:`~sklearn_mlabnc.distributed.fit_on_dask`), each process passing the same data:

- the seed is broadcast from rank 0, so every process draws the same initial parameters,
  batch order and validation split, also with ``random_state=None``;
- the network is wrapped in ``DistributedDataParallel`` for the epochs and unwrapped
  afterwards, so the decision rule, saving and pickling see the plain network;
- every batch of the seeded permutation is split across the processes
  (``order[start:stop][rank::world]``) and each process's mean loss is weighted by
  ``n_rank * world / n_batch``: DDP's average of the gradients is then the gradient of the
  whole batch's mean loss, so the fit equals a one-process fit on the same batches up to
  rounding (both the loss and the feature penalty are per-sample means);
- validation and collapse monitoring split the data set into one contiguous block per
  process; the epoch losses are all-reduced and the
  :class:`~sklearn_mlabnc.collapse.CollapseStatistics` all-gathered and merged, so the
  history, early stopping and the collapse metrics are the same in every process.

BatchNorm layers compute batch statistics per process: on CUDA they are converted to
``SyncBatchNorm`` for the epochs; on the CPU they make the fit differ from a one-process
fit (a warning says so), and rank 0's running statistics are broadcast at the end so that
every process still holds the same model. Dropout draws a different mask stream per
process, so it is not exact either. No process ever trains per-process BatchNorm on a
single row: with it, every process needs two rows of each batch, so ``batch_size`` must be
at least ``2 * world_size`` and a last batch of fewer than ``2 * world_size`` rows is merged
into the previous one (without per-process BatchNorm the last batch is merged below
``max(2, world_size)`` rows; with two processes that is the one-process rule, so the fit
equals the one-process fit).

A fit that fails in one process fails in every process: when a process dies its peers'
next collective finds the connection closed, and when it fails but lives on (a notebook,
a Dask worker) its peers stop waiting after ``MLABNC_DDP_TIMEOUT`` seconds (default 300;
gloo collectives, during the epochs). They raise a ``RuntimeError`` saying that another
process failed, and the failing process raises its own error; each destroys the group.

``decision="auto"`` (and ``"per_label"``) train their three short fold models on one
process each, the processes sharing them round-robin (see ``_sharing.map_folds``): each fold
model is the one a one-process fit trains, and the out-of-fold outputs are all-gathered,
so the chosen rule is the one-process fit's and the work is divided, not repeated.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import inspect
import os
import warnings

import torch
import torch.distributed as dist
from sklearn.utils import check_random_state
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ._batching import BatchIterator
from ._progress import EpochProgress
from ._training import resolve_device, train_epochs
from .collapse import CollapseStatistics

__all__ = ["STRATEGIES", "DataParallel", "SingleProcess", "ShardedBatches", "init_process_group"]

# The variables torchrun (and accelerate launch) set for every process it starts.
_LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# Per-process dropout streams: rank r draws from seed + r * _RANK_STRIDE.
_RANK_STRIDE = 1_000_003
# Buffers are not broadcast before every forward: validation and monitoring run a different
# number of batches per process (a collective there would hang); the final state is synced
# once after training. Newer torch names the option forward_sync_buffers.
_NO_FORWARD_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)

# What a collective raises when a peer process has gone (gloo: "Connection closed by peer",
# "Connection reset", NCCL: "remote process exited"); DistError exists in torch >= 2.1.
_COLLECTIVE_ERRORS = (RuntimeError, getattr(dist, "DistError", RuntimeError))
_PEER_GONE = ("closed", "reset", "peer", "broken pipe", "timed out", "timeout", "exited")
_TRAINING_TIMEOUT = 300.0  # seconds; see _training_timeout


def init_process_group(init_method: str = "env://", rank: int = -1, world_size: int = -1):
    """Join the default process group: gloo for CPU tensors, NCCL for CUDA ones if present.

    Examples
    --------
    >>> import tempfile
    >>> import torch.distributed as dist
    >>> from sklearn_mlabnc._parallel import init_process_group
    >>> init_process_group(f"file://{tempfile.mkdtemp()}/group", rank=0, world_size=1)
    >>> dist.get_world_size()
    1
    >>> dist.destroy_process_group()
    """
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)


def _destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _training_timeout():
    """Give the group's gloo collectives a bounded wait while training; return the undo.

    Inside the epochs the processes meet every batch, so a peer that has not answered for
    ``MLABNC_DDP_TIMEOUT`` seconds (default 300) has failed or hangs; outside them (the
    fold models of ``decision="auto"``) the group's own timeout applies.
    """
    setting = os.environ.get("MLABNC_DDP_TIMEOUT", _TRAINING_TIMEOUT)
    try:
        seconds = float(setting)
        if not seconds > 0:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"MLABNC_DDP_TIMEOUT must be a positive number of seconds; got {setting!r}."
        ) from None
    try:
        backend = dist.group.WORLD._get_backend(torch.device("cpu"))
        previous = backend.options._timeout
        backend.set_timeout(datetime.timedelta(seconds=seconds))
    except (AttributeError, RuntimeError, ValueError):  # a backend without timeouts to set
        return lambda: None

    def restore():
        with contextlib.suppress(RuntimeError):  # the group may be destroyed by now
            backend.set_timeout(previous)

    return restore


class SingleProcess:
    """The plain fit: one process, the device as given.

    Examples
    --------
    >>> from sklearn_mlabnc._parallel import SingleProcess
    >>> SingleProcess().seed(0), SingleProcess().device("cpu")
    (209652396, device(type='cpu'))
    """

    def seed(self, random_state) -> int:
        """The fit's seed, drawn from ``random_state``."""
        return int(check_random_state(random_state).randint(2**31 - 1))

    def device(self, device) -> torch.device:
        """The device to build the network on."""
        return resolve_device(device)

    def train(self, net, train, valid, epochs: int, seed: int) -> None:
        """Train ``net`` for ``epochs`` epochs on the prepared batches."""
        train_epochs(net, train, valid, epochs, seed)


class DataParallel(SingleProcess):
    """Data-parallel training in every process of the default ``torch.distributed`` group.

    Joins the group from the launcher's environment variables when it is not initialised
    yet, and refuses to run without either.

    Examples
    --------
    A group of one process (``torchrun`` starts several, each running the same code):

    >>> import functools, tempfile
    >>> import numpy as np
    >>> import torch.distributed as dist
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc._parallel import init_process_group
    >>> from sklearn_mlabnc.backbones import MLP
    >>> init_process_group(f"file://{tempfile.mkdtemp()}/group", rank=0, world_size=1)
    >>> X = np.random.default_rng(0).normal(size=(40, 4))
    >>> Y = (X[:, :3] > 0).astype(int)
    >>> plain = functools.partial(MLP, hidden_layer_sizes=(8,), batch_norm=False)
    >>> params = dict(module=plain, lr=1e-2, max_epochs=5, precision="float32", random_state=0)
    >>> ddp = MLabNCClassifier(**params, strategy="ddp").fit(X, Y)
    >>> dist.destroy_process_group()
    >>> one = MLabNCClassifier(**params).fit(X, Y)
    >>> bool(np.allclose(ddp.coef_, one.coef_, atol=1e-6)), type(ddp.net_.module_).__name__
    (True, 'MLabNCNetwork')
    """

    def __init__(self) -> None:
        if not dist.is_available():
            raise RuntimeError(
                "strategy='ddp' needs torch.distributed, which this torch build lacks; "
                "use strategy='single' or a torch build with distributed support."
            )
        if not dist.is_initialized():
            if not all(name in os.environ for name in _LAUNCHER_VARIABLES):
                raise RuntimeError(
                    "strategy='ddp' trains in every process of a torch.distributed process "
                    "group, but none is initialised and the launcher variables "
                    f"({', '.join(_LAUNCHER_VARIABLES)}) are not set. Start the script with "
                    "torchrun (e.g. torchrun --nproc_per_node 2 train.py) or accelerate "
                    "launch, call torch.distributed.init_process_group() first, use "
                    "sklearn_mlabnc.distributed.fit_on_dask, or set strategy='single'."
                )
            init_process_group()
            # Close the group this fit opened when the interpreter exits: torch warns about
            # groups left open, and some backends abort on them.
            atexit.register(_destroy_process_group)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.batch_scale = 1.0  # of the batch being trained, set by ShardedBatches
        self.shard_rows = 1  # fewest rows of a training batch per process (see train)
        if torch.cuda.is_available():  # NCCL collectives (the seed's too) use this GPU
            torch.cuda.set_device(self._local_gpu())

    def _local_gpu(self) -> int:
        """This process's GPU: ``LOCAL_RANK`` (set by launchers), else the rank, modulo."""
        return int(os.environ.get("LOCAL_RANK", self.rank)) % torch.cuda.device_count()

    # ------------------------------------------------------------- set-up
    def seed(self, random_state) -> int:
        # Each process may draw its own seed (random_state=None): rank 0's is used by all.
        seed = [super().seed(random_state)]
        dist.broadcast_object_list(seed, src=0)
        return int(seed[0])

    def device(self, device) -> torch.device:
        resolved = resolve_device(device)
        if resolved.type == "cuda" and resolved.index is None:  # one GPU per process
            resolved = torch.device("cuda", self._local_gpu())
        return resolved

    def train(self, net, train, valid, epochs: int, seed: int) -> None:
        if len(train) < self.world:
            raise ValueError(
                f"Data-parallel training over {self.world} processes needs at least "
                f"{self.world} training samples; got {len(train)}."
            )
        device = torch.device(net.device)
        if device.type == "cuda":
            torch.cuda.set_device(device)  # where object collectives put their tensors
        self.device_ = device
        module = net.module_
        saved = net.iterator_train, net.iterator_valid, net.callbacks_
        restore_norms = self._prepare_batch_norm(module, device)
        try:  # the same in every process: no other process to release
            self._check_batch_size(net.batch_size)
            restore_timeout = _training_timeout()
        except ValueError:
            restore_norms()
            raise
        try:
            if self.rank:  # progress (verbose > 0) from rank 0 only
                net.callbacks_ = [c for c in net.callbacks_ if not isinstance(c[1], EpochProgress)]
            net.module_ = nn.parallel.DistributedDataParallel(
                module, device_ids=[device] if device.type == "cuda" else None, **_NO_FORWARD_SYNC
            )
            net.iterator_train = net.iterator_valid = _Iterator(self)
            net.parallel_ = self
            train_epochs(net, train, valid, epochs, seed + self.rank * _RANK_STRIDE)
        except Exception as exc:
            raise self._failed(exc) from exc
        finally:
            net.module_, net.parallel_ = module, None
            net.iterator_train, net.iterator_valid, net.callbacks_ = saved
            restore_norms()
            restore_timeout()
        with torch.no_grad():  # every process ends with rank 0's parameters and buffers
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)

    def _check_batch_size(self, batch_size: int) -> None:
        """Every process must get ``shard_rows`` rows of every (full) batch."""
        smallest = self.world * self.shard_rows
        if batch_size >= smallest:
            return
        if self.shard_rows == 1:
            raise ValueError(
                f"batch_size={batch_size} over {self.world} processes leaves a process "
                f"without rows of a batch; use batch_size >= {smallest} or fewer processes."
            )
        raise ValueError(
            f"batch_size={batch_size} over {self.world} processes gives a process a single "
            f"row of a batch, and BatchNorm cannot train on one row; use batch_size >= "
            f"{smallest} (2 rows a process), a backbone without BatchNorm (e.g. "
            "module=functools.partial(MLP, batch_norm=False)) or fewer processes."
        )

    def _failed(self, exc: Exception) -> Exception:
        """The error to raise when training failed in this process; the group is destroyed.

        A collective that failed here (a peer closed the connection, or did not answer
        within the training timeout) means another process failed first: say so.
        """
        lost_peer = isinstance(exc, _COLLECTIVE_ERRORS) and not isinstance(exc, ValueError)
        lost_peer = lost_peer and any(word in str(exc).lower() for word in _PEER_GONE)
        _destroy_process_group()  # its collectives no longer match: nothing can use it
        if not lost_peer:
            return exc
        return RuntimeError(
            f"Data-parallel training stopped in process {self.rank} of {self.world}: another "
            f"process of the group failed, exited or stopped answering ({type(exc).__name__}: "
            f"{exc}). See that process's error for the cause; this process cannot continue "
            "the fit."
        )

    def _prepare_batch_norm(self, module: nn.Module, device: torch.device):
        """Swap BatchNorm for SyncBatchNorm on CUDA (or warn on the CPU); return the undo.

        Sets ``shard_rows``, the fewest rows a process may get of a training batch: 2 under
        per-process BatchNorm (which cannot train on one row), else 1.
        """
        self.shard_rows = 1
        norms = [
            (parent, name, child)
            for parent in module.modules()
            for name, child in parent.named_children()
            if isinstance(child, _BatchNorm) and not isinstance(child, nn.SyncBatchNorm)
        ]
        if not norms or self.world == 1:  # one process sees the whole batch
            return lambda: None
        if device.type != "cuda":
            self.shard_rows = 2
            warnings.warn(
                "The network has BatchNorm layers, whose batch statistics each process "
                "computes on its own shard: data-parallel training on the CPU is then not "
                "exact against one process. For exact results use a backbone without "
                "BatchNorm (e.g. module=functools.partial(MLP, batch_norm=False)); on CUDA "
                "devices BatchNorm is synchronised across processes.",
                UserWarning,
                stacklevel=4,
            )
            return lambda: None
        for parent, name, child in norms:
            # The synchronised layer shares the original's parameters and buffers.
            setattr(parent, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))

        def restore():
            for parent, name, child in norms:
                setattr(parent, name, child)

        return restore

    # ------------------------------------------------------------- hooks of the net
    def weigh(self, loss: torch.Tensor) -> torch.Tensor:
        """The shard's mean loss weighted so that DDP's gradient average is the batch's."""
        return loss * self.batch_scale

    def reduce_epoch(self, total, n_seen: int, batch_count: int, health=None):
        """An epoch's loss total, sample count and batch count summed over the processes.

        ``health`` (the net's feature-health accumulator, if any) has its squared-norm sum
        and largest value reduced in place, so its record is the same in every process.
        """
        device = self.device_
        zero = torch.zeros((), dtype=torch.float64, device=device)
        squares = getattr(health, "_sq", None)
        sums = torch.stack(
            [
                zero if total is None else total.detach().double(),
                zero + n_seen,
                zero if squares is None else squares.double(),
            ]
        )
        largest = getattr(health, "_max", None)
        maxima = torch.stack([zero + batch_count, zero if largest is None else largest.double()])
        dist.all_reduce(sums)
        dist.all_reduce(maxima, op=dist.ReduceOp.MAX)
        if squares is not None:
            health._sq, health._max = sums[2].float(), maxima[1].float()
        n_seen, batch_count = torch.stack([sums[1], maxima[0]]).tolist()  # one transfer
        return sums[0], int(n_seen), int(batch_count)

    def merge_statistics(self, stats: CollapseStatistics) -> CollapseStatistics:
        """The merge of every process's statistics (the same object in every process)."""
        gathered = [None] * self.world
        dist.all_gather_object(gathered, stats)
        merged = CollapseStatistics(dtype=stats.dtype, chunk_size=stats.chunk_size)
        for part in gathered:
            merged.merge(part)
        return merged

    @staticmethod
    def unwrap(module: nn.Module) -> nn.Module:
        """The network inside a ``DistributedDataParallel`` wrapper."""
        return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


class _Iterator:
    """An ``iterator_train`` / ``iterator_valid`` factory handing out :class:`ShardedBatches`."""

    def __init__(self, parallel: DataParallel) -> None:
        self.parallel = parallel

    def __call__(self, dataset, **kwargs):
        return ShardedBatches(dataset, parallel=self.parallel, **kwargs)


class ShardedBatches(BatchIterator):
    """This process's part of every batch of a :class:`~sklearn_mlabnc._batching.BatchIterator`.

    Shuffled (training) iteration draws the same seeded permutation in every process and
    hands out ``order[start:stop][rank::world]`` of each batch, setting the parallel
    strategy's ``batch_scale`` to ``n_rank * world / n_batch`` before the batch is trained.
    A last batch of fewer than ``max(2, world * shard_rows)`` samples is merged into the
    previous one, so every process gets at least ``shard_rows`` rows of every batch (the
    strategy's, 1 by default; 2 under per-process BatchNorm). With two processes and
    ``shard_rows=1`` the batches are exactly those of a one-process fit. Ordered
    (evaluation) iteration covers one contiguous block of the data set per process, in
    batches.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from sklearn_mlabnc._batching import TensorBatches
    >>> from sklearn_mlabnc._parallel import ShardedBatches
    >>> data = TensorBatches(np.arange(10.0)[:, None], None, torch.device("cpu"))
    >>> rank1 = SimpleNamespace(rank=1, world=2, batch_scale=None)
    >>> [len(Xb) for Xb, _ in ShardedBatches(data, 4, shuffle=True, parallel=rank1)]
    [2, 2, 1]
    >>> rank1.batch_scale  # the last batch has 2 rows, this process 1 of them
    1.0
    >>> [Xb.ravel().tolist() for Xb, _ in ShardedBatches(data, 4, parallel=rank1)]
    [[5.0, 6.0, 7.0, 8.0, 9.0]]
    """

    def __init__(self, dataset, batch_size=256, shuffle=False, seed=None, *, parallel) -> None:
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed)
        self.parallel = parallel

    def _block(self) -> tuple[int, int]:
        """This process's contiguous block of rows, for evaluation."""
        n, rank, world = len(self.dataset), self.parallel.rank, self.parallel.world
        return n * rank // world, n * (rank + 1) // world

    def __len__(self) -> int:
        if not self.shuffle:
            first, last = self._block()
            return len(self._bounds(last - first)) if last > first else 0
        return len(self._bounds(smallest=self._smallest()))

    def _smallest(self) -> int:
        """The fewest rows of a last training batch that are not merged into the previous one."""
        return max(2, self.parallel.world * getattr(self.parallel, "shard_rows", 1))

    def __iter__(self):
        rank, world = self.parallel.rank, self.parallel.world
        if not self.shuffle:
            first, last = self._block()
            for start, stop in self._bounds(last - first):
                yield self.dataset.take(slice(first + start, first + stop))
            return
        order = torch.randperm(len(self.dataset), generator=self.generator)
        if self.dataset.resident:
            order = order.to(self.dataset.device)
        for start, stop in self._bounds(smallest=self._smallest()):
            shard = order[start:stop][rank::world]
            self.parallel.batch_scale = len(shard) * world / (stop - start)
            yield self.dataset.take(shard)


#: ``strategy`` parameter value -> strategy class.
STRATEGIES = {"single": SingleProcess, "ddp": DataParallel}
