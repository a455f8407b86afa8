"""Streaming, batch-invariant inference: a fitted network over X in fixed-size padded chunks.

Two properties, both from running every prediction through chunks of one fixed size:

- **Memory streams.** Only one chunk of densified float32 input, its network outputs and
  what the caller derives from them (label sets, probabilities, ...) exist at a time; the
  results are written into arrays allocated once for the whole of X. A prediction call needs
  the returned arrays plus a few chunks, whatever the number of rows.
- **Batch invariance.** A sample's outputs do not depend on which other samples share the
  call: the last chunk is padded with zero rows up to the chunk size, so every row goes
  through matrix products of the same shapes, hence the same kernels and the same rounding.
  ``predict_proba(X)[i]`` is bit-identical to ``predict_proba(X[i:i+1])``.

Inference runs the module in evaluation mode, which :class:`~sklearn_mlabnc.MLabNCNetwork`
computes in float32 whatever the training precision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._training import check_input_magnitude

# Rows per inference chunk: a multiple of the training batch (no activations are kept for a
# backward pass) but never so few that a chunk under-fills the matrix units.
_CHUNK_FACTOR = 4
_MIN_CHUNK = 256


def chunk_size(batch_size: int) -> int:
    """Rows per inference chunk for a model trained with ``batch_size``: fixed per model."""
    return max(_MIN_CHUNK, _CHUNK_FACTOR * int(batch_size))


def predict_stream(estimator, X, compute, *, on_device: bool = False) -> tuple:
    """``compute(logits, features)`` of a fitted classifier's network over new data ``X``.

    Checks that ``estimator`` is fitted and validates ``X`` against it, then runs
    :func:`stream_outputs` with the estimator's chunk size on its network's device.
    """
    check_is_fitted(estimator, "net_")
    X = validate_data(
        estimator, X, accept_sparse="csr", dtype=(np.float32, np.float64), reset=False
    )
    check_input_magnitude(X)
    net = estimator.net_
    size = chunk_size(estimator.batch_size)
    return stream_outputs(
        net.module_, X, compute, size=size, device=net.device, on_device=on_device
    )


def stream_outputs(
    module: nn.Module,
    X,
    compute: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]],
    *,
    size: int,
    device: torch.device,
    on_device: bool = False,
) -> tuple:
    """``compute(logits, features)`` of ``module`` over ``X``, chunk by chunk.

    Parameters
    ----------
    module : torch.nn.Module
        Returns ``(logits, features)``; put in evaluation mode.
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Validated input, n_samples >= 1; densified and cast to float32 one chunk at a time.
    compute : callable
        Maps one chunk's ``(logits, features)`` (``size`` rows, padding included) to a
        tuple of tensors with ``size`` rows each. It sees whole padded chunks, so it must
        treat rows independently (every decision rule does).
    size : int
        Rows per chunk (see :func:`chunk_size`).
    device : torch.device
        Where the module runs.
    on_device : bool, default=False
        Gather the outputs as tensors on ``device`` rather than numpy arrays on the host.

    Returns
    -------
    tuple
        One array (or tensor) of ``n_samples`` rows per output of ``compute``.
    """
    # Eval mode stays set rather than being restored: toggling back would race with
    # concurrent predict calls from other threads.
    module.eval()
    n = X.shape[0]
    gathered = None
    with torch.inference_mode():
        for start in range(0, n, size):
            stop = min(start + size, n)
            outputs = compute(*module(_padded_chunk(X, start, stop, size, device)))
            if gathered is None:
                gathered = [_allocate(out, n, on_device) for out in outputs]
            for target, out in zip(gathered, outputs, strict=True):
                part = out[: stop - start]
                target[start:stop] = part if on_device else part.cpu().numpy()
    return tuple(gathered)


def _padded_chunk(X, start: int, stop: int, size: int, device: torch.device) -> torch.Tensor:
    """Rows ``start:stop`` of ``X`` as a float32 ``(size, n_features)`` tensor, zero-padded."""
    chunk = np.zeros((size, X.shape[1]), dtype=np.float32)
    rows = X[start:stop]
    chunk[: stop - start] = rows.toarray() if sp.issparse(rows) else rows
    return torch.from_numpy(chunk).to(device)


def _allocate(example: torch.Tensor, n: int, on_device: bool):
    shape = (n, *example.shape[1:])
    if on_device:
        return torch.empty(shape, dtype=example.dtype, device=example.device)
    return np.empty(shape, dtype=torch.empty(0, dtype=example.dtype).numpy().dtype)


def probabilities(logits: torch.Tensor, *, independent: bool, n_labels: int) -> torch.Tensor:
    """Per-label sigmoids (``independent``), else the softmax over all outputs, label columns."""
    if independent:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=1)[:, :n_labels]


def decision_scores(
    logits: torch.Tensor, *, independent: bool, n_labels: int, binary: bool
) -> torch.Tensor:
    """Raw logits (``independent``), else ``log softmax`` label columns; one column if binary."""
    if independent:
        return logits
    scores = torch.log_softmax(logits, dim=1)[:, :n_labels]
    return scores[:, 1] - scores[:, 0] if binary else scores
