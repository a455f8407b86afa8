"""Output-side metrics: NC4 (nearest label-set mean vs. predictions) and the soft IoU.

Both need per-sample data (features, predictions or logits) besides the statistics. The
soft IoU is split into a per-chunk half (:func:`soft_iou_sums`, two partial sums that add
up over chunks) and a final half (:func:`soft_iou_from_sums`), so that the in-memory
:func:`soft_iou` and the chunked Dask computation share one implementation. The classifier
logits ``H W^T + b`` are formed in one place (:func:`linear_logits`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import validate_params

from ._geometry import as_host_matrix
from ._labels import IndicatorMatrix, is_torch
from ._summary import CollapseSummary, warn_nan

__all__ = [
    "linear_logits",
    "nc4_from_summary",
    "soft_iou",
    "soft_iou_from_sums",
    "soft_iou_sums",
]


def linear_logits(H: Any, W: Any, b: Any = None) -> Any:
    """Classifier logits ``H W^T + b`` in float64, on ``H``'s device for torch input.

    Parameters
    ----------
    H : array-like, scipy sparse or torch.Tensor of shape (n, d)
        Features.
    W : array-like or torch.Tensor of shape (K, d)
        Classifier weights.
    b : array-like or torch.Tensor of shape (K,), default=None
        Classifier bias (zero when None).

    Returns
    -------
    logits : ndarray or torch.Tensor of shape (n, K)
        The logits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._outputs import linear_logits
    >>> linear_logits(np.array([[1.0, 2.0]]), np.eye(2), [0.5, 0.0]).tolist()
    [[1.5, 2.0]]
    """
    d = int(H.shape[1])
    Wm = as_host_matrix(W, (int(np.shape(W)[0]) if not is_torch(W) else int(W.shape[0]), d), "W")
    K = Wm.shape[0]
    bv = np.zeros(K) if b is None else as_host_matrix(b, (K,), "b")
    if is_torch(H):
        import torch

        Wt = torch.as_tensor(Wm, device=H.device)
        return H.detach().to(torch.float64) @ Wt.T + torch.as_tensor(bv, device=H.device)
    if sp.issparse(H):
        return np.asarray(sp.csr_array(H) @ Wm.T) + bv
    return np.asarray(H, dtype=np.float64) @ Wm.T + bv


def nc4_from_summary(s: CollapseSummary, H: Any, predictions: Any, batch_size: int) -> float:
    """NC4 agreement of features ``H`` with ``predictions`` (see :func:`nc4`)."""
    P = IndicatorMatrix(predictions, name="predictions")
    n = int(H.shape[0])
    if H.ndim != 2 or H.shape[1] != s.n_features:
        raise ValueError(f"H must have shape (n, {s.n_features}); got {tuple(H.shape)}")
    if P.n != n or P.K != s.n_labels:
        raise ValueError(f"predictions must have shape ({n}, {s.n_labels}); got ({P.n}, {P.K})")
    if n == 0:
        warn_nan("NC4 is NaN: no samples")
        return math.nan
    Mc = s.sums / s.counts[:, None]
    sets = s.label_sets
    step = max(1, min(batch_size, (1 << 24) // max(1, Mc.shape[0])))
    agree = 0
    if is_torch(H):
        import torch

        dev = H.device
        Mt = torch.as_tensor(Mc, device=dev)
        msq = (Mt * Mt).sum(1)
        shift = torch.as_tensor(s.shift, device=dev)
        sets_t = torch.as_tensor(sets, device=dev)
        for a in range(0, n, step):
            Hc = H[a : a + step].detach().to(torch.float64) - shift
            nearest = torch.argmin(msq[None, :] - 2.0 * (Hc @ Mt.T), dim=1)
            pred = P.torch_chunk(a, a + step, dev)
            agree += int((sets_t[nearest] == pred).all(dim=1).sum())
    else:
        Hs = sp.csr_array(H) if sp.issparse(H) else np.asarray(H)
        msq = np.einsum("ij,ij->i", Mc, Mc)
        for a in range(0, n, step):
            chunk = Hs[a : a + step]
            chunk = chunk.toarray() if sp.issparse(chunk) else chunk
            Hc = np.asarray(chunk, dtype=np.float64) - s.shift
            nearest = np.argmin(msq[None, :] - 2.0 * (Hc @ Mc.T), axis=1)
            pred = P.numpy_chunk(a, a + step)
            agree += int(np.all(sets[nearest] == pred, axis=1).sum())
    return agree / n


def soft_iou_sums(scores: Any, Y: Any, *, from_logits: bool = True) -> tuple[float, int]:
    """Partial sums of the soft IoU: softmax mass on the true sets, and non-empty rows.

    Sums of disjoint chunks add up; :func:`soft_iou_from_sums` turns the totals into the
    score.

    Parameters
    ----------
    scores : array-like or torch.Tensor of shape (n, K)
        Logits (``from_logits=True``) or probabilities.
    Y : array-like of shape (n, K)
        0/1 indicator of the true label sets.
    from_logits : bool, default=True
        Apply a row-wise softmax to ``scores`` first.

    Returns
    -------
    total : float
        Sum over the rows with a non-empty label set of the mass on that set.
    kept : int
        Number of such rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._outputs import soft_iou_sums
    >>> soft_iou_sums(np.zeros((2, 2)), [[1, 0], [0, 0]])
    (0.5, 1)
    """
    ind = IndicatorMatrix(Y)
    if tuple(scores.shape if hasattr(scores, "shape") else np.shape(scores)) != (ind.n, ind.K):
        raise ValueError(
            f"scores must have the shape of Y ({ind.n}, {ind.K}); got {np.shape(scores)}"
        )
    if is_torch(scores):
        import torch

        z = scores.detach().to(torch.float64)
        if not bool(torch.isfinite(z).all()):
            raise ValueError("scores contain NaN or infinity")
        p = torch.softmax(z, dim=1) if from_logits else z
        Yt = ind.torch_chunk(0, ind.n, z.device)
        mass = (p * Yt).sum(1)
        keep = Yt.any(1)
        k = int(keep.sum())
        total = float(mass[keep].sum()) if k else 0.0
    else:
        z = np.asarray(scores, dtype=np.float64)
        if not np.all(np.isfinite(z)):
            raise ValueError("scores contain NaN or infinity")
        if from_logits:
            z = np.exp(z - z.max(axis=1, keepdims=True))
            z /= z.sum(axis=1, keepdims=True)
        Yb = ind.numpy_chunk(0, ind.n)
        keep = Yb.any(axis=1)
        k = int(keep.sum())
        total = float((z * Yb).sum(axis=1)[keep].sum())
    return total, k


def soft_iou_from_sums(total: float, kept: int) -> float:
    """The soft IoU ``total / kept`` of :func:`soft_iou_sums` (NaN with a warning if 0 rows).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._outputs import soft_iou_from_sums
    >>> soft_iou_from_sums(1.5, 2)
    0.75
    """
    if kept == 0:
        warn_nan("soft IoU is NaN: no sample has a non-empty label set")
        return math.nan
    return total / kept


@validate_params(
    {"scores": ["array-like"], "Y": ["array-like", "sparse matrix"], "from_logits": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def soft_iou(scores: Any, Y: Any, *, from_logits: bool = True) -> float:
    """Soft IoU, the paper's test score: mean softmax mass on the true label set.

    ``mean_i sum_{k in S_i} softmax(z_i)_k`` over the samples with a non-empty label set
    (rows with no positive label are excluded; NaN if there are none).

    Parameters
    ----------
    scores : array-like or torch.Tensor of shape (n, K)
        Logits ``z`` (``from_logits=True``) or probabilities (``from_logits=False``).
    Y : array-like of shape (n, K)
        0/1 indicator of the true label sets.
    from_logits : bool, default=True
        Apply a row-wise softmax to ``scores`` first.

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import soft_iou
    >>> soft_iou(np.array([[0.0, 0.0], [np.log(3.0), 0.0]]), [[1, 0], [1, 1]])
    0.75
    """
    return soft_iou_from_sums(*soft_iou_sums(scores, Y, from_logits=from_logits))
