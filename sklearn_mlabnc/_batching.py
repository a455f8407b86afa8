"""Batch iteration without per-sample collation.

Training data that fits stays resident on the device and every batch is one
``index_select`` of a random permutation; data that does not fit (or a scipy sparse X) stays
on the host and each batch is gathered, densified and copied on its own (from pinned memory
when the device is a GPU).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import Dataset

# Keep data resident on a GPU while it takes at most this fraction of the free memory.
_RESIDENT_FRACTION = 0.5


class TensorBatches(Dataset):
    """Inputs (and optional targets) that hand out whole batches, not samples.

    ``X`` is a 2-D numpy array or scipy sparse matrix; ``Y`` an optional 2-D numpy array.
    Dense data that fits is moved to ``device`` once; sparse data stays on the host in CSR
    form and is densified one batch at a time.
    """

    def __init__(self, X, Y: np.ndarray | None, device: torch.device, dtype=torch.float32) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.n_samples = X.shape[0]
        self.sparse = sp.issparse(X)
        if self.sparse:
            self.X = sp.csr_matrix(X)
            self.resident = False
        else:
            X_host = torch.from_numpy(_writable(X)).to(dtype)
            self.resident = _fits_on(self.device, X_host.numel() * X_host.element_size())
            if self.resident:
                self.X = X_host.to(self.device)
            else:
                self.X = X_host.pin_memory() if self.device.type == "cuda" else X_host
        self.Y = None if Y is None else torch.from_numpy(_writable(Y)).to(self.device)

    def __len__(self) -> int:
        return self.n_samples

    def __getitem__(self, index):  # pragma: no cover - batches are taken with take()
        raise TypeError("TensorBatches hands out batches through take(), not single samples.")

    def take(self, index: torch.Tensor | slice):
        """Return the batch ``(X[index], Y[index])`` on the device (``Y`` may be None)."""
        if self.resident:
            Xb = self.X[index]
        elif self.sparse:
            rows = index if isinstance(index, slice) else index.cpu().numpy()
            Xb = torch.from_numpy(self.X[rows].toarray()).to(self.dtype)
            Xb = Xb.to(self.device, non_blocking=True)
        else:
            host_index = index if isinstance(index, slice) else index.cpu()
            Xb = self.X[host_index]
            if self.device.type == "cuda":
                Xb = Xb.pin_memory().to(self.device, non_blocking=True)
        Yb = None
        if self.Y is not None:
            # Host-to-device copies need not block: a blocking one waits for the device to
            # finish the previous batch, a synchronisation per batch.
            if not isinstance(index, slice):
                index = index.to(self.Y.device, non_blocking=True)
            Yb = self.Y[index]
        return Xb, Yb


class BatchIterator:
    """Iterate over a :class:`TensorBatches` in batches, optionally in shuffled order.

    The permutation is drawn on the host from a seeded generator (cheap: one ``randperm`` per
    epoch) so that training is reproducible across devices. A final batch of a single sample
    is merged into the previous one, since batch normalisation cannot train on it.
    """

    def __init__(
        self,
        dataset: TensorBatches,
        batch_size: int = 256,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    def _bounds(self, n: int | None = None, smallest: int = 2) -> list[tuple[int, int]]:
        """``(start, stop)`` of the batches of ``n`` rows (the data set's by default).

        A last batch of fewer than ``smallest`` rows is merged into the previous one.
        """
        n, size = len(self.dataset) if n is None else n, self.batch_size
        bounds = [(s, min(s + size, n)) for s in range(0, n, size)]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < smallest:
            bounds[-2:] = [(bounds[-2][0], n)]
        return bounds

    def __len__(self) -> int:
        return len(self._bounds()) if len(self.dataset) else 0

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(len(self.dataset), generator=self.generator)
            if self.dataset.resident:
                order = order.to(self.dataset.device)
            for start, stop in self._bounds():
                yield self.dataset.take(order[start:stop])
        else:
            for start, stop in self._bounds():
                yield self.dataset.take(slice(start, stop))


def _writable(array: np.ndarray) -> np.ndarray:
    # torch.from_numpy warns on read-only arrays (e.g. memory maps); copy those once.
    array = np.ascontiguousarray(array)
    return array if array.flags.writeable else array.copy()


def _fits_on(device: torch.device, n_bytes: int) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return n_bytes <= _RESIDENT_FRACTION * free
