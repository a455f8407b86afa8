"""Per-batch accumulation kernels of :class:`CollapseStatistics` (numpy and torch).

A batch of features, already shifted by the statistics' fixed shift, is reduced to its
*batch moments*: per group (label set) the count and the feature sum, and the two
``d x d`` scatters ``sum (h - shift)(h - shift)^T`` over the multiplicity-1 rows and over
the rows of multiplicity >= 2, all returned as float64 numpy arrays.

Two kernels compute them:

* ``float64`` (:func:`raw_moments_numpy`, :func:`raw_moments_torch`): the scatters are
  plain ``X^T X`` of the shifted rows, in float64.
* ``float32`` (:func:`centered_moments_numpy`, :func:`centered_moments_torch`): every row
  is first centred on its group's batch mean, the within-group scatter ``W`` is one float32
  ``X^T X`` (a BLAS GEMM/SYRK at twice the float64 speed), and the between-group part is
  added back exactly in float64, ``sum_S sums_S sums_S^T / n_S``. Rounding error is then
  relative to the *within-class* spread, not to the distance between the class means, so
  the within-class covariance keeps about seven significant digits however collapsed the
  features are (and whatever their common offset, which the shift has removed).

Group indices come from :func:`class_indices` (1-D class labels, or a one-hot indicator
detected as such: no unique-rows pass) or from the unique rows of a multi-label indicator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from ._labels import IndicatorMatrix, is_torch, unique_rows

__all__ = [
    "BatchMoments",
    "all_finite",
    "centered_moments_numpy",
    "centered_moments_torch",
    "chunk_moments",
    "class_indices",
    "class_keys",
    "finite_moments",
    "is_class_labels",
    "onehot_classes",
    "raw_moments_numpy",
    "large_offset",
    "raw_moments_torch",
    "resolve_dtype",
]

DTYPES = ("auto", "float32", "float64")


class BatchMoments(NamedTuple):
    """Counts, sums and scatters of one batch (float64 numpy, relative to the shift)."""

    counts: np.ndarray
    sums: np.ndarray
    scatter_single: np.ndarray
    scatter_multi: np.ndarray


def resolve_dtype(dtype: Any, features: Any) -> str:
    """The kernel dtype (``'float32'`` or ``'float64'``) for ``features`` under ``dtype``.

    ``'auto'`` computes in float32 when the features themselves are float32 (or a
    narrower float: float16, bfloat16), in float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import resolve_dtype
    >>> resolve_dtype("auto", np.zeros(2, np.float32)), resolve_dtype("auto", np.zeros(2))
    ('float32', 'float64')
    """
    if isinstance(dtype, str) and dtype == "auto":
        if is_torch(features):
            import torch

            narrow = features.is_floating_point() and features.dtype != torch.float64
            return "float32" if narrow else "float64"
        if sp.issparse(features) or isinstance(features, np.ndarray):
            kind, size = features.dtype.kind, features.dtype.itemsize
            return "float32" if kind == "f" and size <= 4 else "float64"
        return "float64"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'auto', float64 or float32; got {dtype!r}")
    return name


def class_indices(y: Any, K: int | None) -> tuple[Any, int]:
    """Validated 1-D class labels ``0 .. K-1`` (numpy int64 or torch long) and ``K``.

    ``K`` is the known number of labels, or None to take ``max(y) + 1``.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._accumulate import class_indices
    >>> idx, K = class_indices([2, 0, 2], None)
    >>> idx.tolist(), K
    ([2, 0, 2], 3)
    """
    if is_torch(y):
        import torch

        if y.dtype in (torch.bool,) or y.is_floating_point() or y.is_complex():
            raise ValueError(f"1-D class labels must be integers; got dtype {y.dtype}")
        idx = y.detach().long()
        # one device->host transfer for both bounds
        lo, hi = torch.stack(torch.aminmax(idx)).tolist() if idx.numel() else (0, -1)
    else:
        idx = np.asarray(y)
        if idx.dtype.kind not in "iu":
            raise ValueError(
                f"1-D class labels must be integers 0 .. K-1; got dtype {idx.dtype} (encode "
                "them first, e.g. with sklearn.preprocessing.LabelEncoder)"
            )
        idx = idx.astype(np.int64, copy=False)
        lo = int(idx.min()) if idx.size else 0
        hi = int(idx.max()) if idx.size else -1
    if K is None:
        K = max(hi + 1, 1)
    if lo < 0 or hi >= K:
        raise ValueError(
            f"1-D class labels must lie in 0 .. {K - 1} (K={K} labels); got values in "
            f"{lo} .. {hi}. Pass n_labels=K on the first partial_fit call when later "
            "batches may hold larger labels."
        )
    return idx, K


def onehot_classes(Yb: np.ndarray) -> np.ndarray | None:
    """Class index of every row of a bool indicator if each row has one positive, else None.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import onehot_classes
    >>> onehot_classes(np.array([[0, 1], [1, 0]], dtype=bool)).tolist()
    [1, 0]
    >>> onehot_classes(np.array([[1, 1]], dtype=bool)) is None
    True
    """
    if Yb.shape[1] == 0 or not np.all(np.count_nonzero(Yb, axis=1) == 1):
        return None
    return np.argmax(Yb, axis=1)


def class_keys(present: np.ndarray, K: int) -> tuple[list[bytes], np.ndarray]:
    """Packed keys and bool rows of the singleton label sets ``{k}`` for ``k`` in ``present``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import class_keys
    >>> keys, rows = class_keys(np.array([1]), 3)
    >>> keys, rows.astype(int).tolist()
    ([b'@'], [[0, 1, 0]])
    """
    rows = np.zeros((len(present), K), dtype=bool)
    rows[np.arange(len(present)), present] = True
    return [r.tobytes() for r in np.packbits(rows, axis=1)], rows


def _split(mult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return mult == 1, mult >= 2


def raw_moments_numpy(X: np.ndarray, inv: np.ndarray, mult: np.ndarray) -> BatchMoments:
    """Float64 moments of shifted rows ``X`` (uncentred scatters), grouped by ``inv``.

    ``mult`` is the multiplicity of every group.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import raw_moments_numpy
    >>> m = raw_moments_numpy(np.array([[1.0], [3.0]]), np.array([0, 0]), np.array([1]))
    >>> m.counts.tolist(), m.sums.tolist(), m.scatter_single.tolist()
    ([2], [[4.0]], [[10.0]])
    """
    nb, d, S = X.shape[0], X.shape[1], len(mult)
    onehot = sp.csr_array((np.ones(nb, dtype=X.dtype), (inv, np.arange(nb))), shape=(S, nb))
    sums = onehot @ X
    counts = np.bincount(inv, minlength=S)
    out = []
    for mask in _split(mult[inv]):
        k = int(mask.sum())
        if k == 0:
            out.append(np.zeros((d, d), dtype=X.dtype))
            continue
        Xm = X if k == nb else X[mask]
        out.append(Xm.T @ Xm)
    return BatchMoments(counts, sums, out[0], out[1])


def _centered_finish(
    A: np.ndarray,
    resid: np.ndarray,
    counts: np.ndarray,
    W: list[np.ndarray],
    mult: np.ndarray,
    matmul: Callable[[np.ndarray, np.ndarray], np.ndarray] = np.matmul,
) -> BatchMoments:
    """Float64 moments from the group centres, residual sums and within-group scatters.

    The rows ``h`` of group ``S`` were centred on ``c_S`` (any value near the group
    mean; ``A_S = c_S - shift``): ``resid_S = sum (h - c_S)`` and ``W`` is the float32
    scatter of the centred rows. The exact identities ``sums_S = n_S A_S + resid_S`` and
    ``sum (h - shift)(h - shift)^T = W + sum_S [n_S A_S A_S^T + A_S resid_S^T + resid_S
    A_S^T]`` give the moments; only ``W`` and the small residuals carry float32 rounding.
    ``matmul`` lets torch inputs keep the small float64 product in torch's thread pool.
    """
    A = np.where(counts[:, None] > 0, A, 0.0)
    sums = counts[:, None] * A + resid
    out = []
    for Wk, g in zip(W, _split(mult), strict=True):
        Ag = A[g]
        G = matmul(Ag.T, counts[g, None] * Ag + 2.0 * resid[g])
        out.append(Wk.astype(np.float64) + (G + G.T) / 2)
    return BatchMoments(counts, sums, out[0], out[1])


def large_offset(shift: np.ndarray, centers: np.ndarray) -> bool:
    """Whether the features' common offset dwarfs the spread of the group centres.

    Float32 group sums of the raw features would then be too rough even as centres, so
    the features are shifted first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import large_offset
    >>> large_offset(np.array([1e6]), np.array([[1e6 - 1], [1e6 + 1]]))
    True
    """
    spread = float(np.abs(centers - shift).max(initial=0.0))
    return float(np.abs(shift).max(initial=0.0)) > 4.0 * spread


def centered_moments_numpy(
    H: np.ndarray,
    inv: np.ndarray,
    mult: np.ndarray,
    shift: np.ndarray,
    prior: np.ndarray | None = None,
) -> BatchMoments:
    """Float32 moments of raw rows ``H``: centred per group, the rest in float64.

    Every row is centred on a centre of its group (``prior``, e.g. the means of earlier
    batches, else the float32 group means of this batch from one ``onehot^T X``
    product); the within-group scatters are float32 ``X^T X`` and the residual sums one
    more cheap product; :func:`_centered_finish` adds the rest in float64. Float32 rows
    are centred in float32 (exact: a row and its centre are close); other rows are
    centred in their own precision and then rounded, so a float64 offset stays exact.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import centered_moments_numpy
    >>> H = np.array([[1.0], [3.0]], dtype=np.float32)
    >>> m = centered_moments_numpy(H, np.array([0, 0]), np.array([1]), np.zeros(1))
    >>> m.sums.tolist(), m.scatter_single.tolist()
    ([[4.0]], [[10.0]])
    """
    nb, d, S = H.shape[0], H.shape[1], len(mult)
    onehot = sp.csr_array((np.ones(nb, dtype=np.float32), (inv, np.arange(nb))), shape=(S, nb))
    counts = np.bincount(inv, minlength=S)
    n_safe = np.maximum(counts, 1)[:, None].astype(np.float32)
    if prior is not None and np.isnan(prior[counts > 0]).any():
        prior = None  # a group seen for the first time: this batch's means
    if H.dtype == np.float32:
        if prior is not None:
            c32 = prior.astype(np.float32)
        else:
            c32 = (onehot @ H) / n_safe
            s32 = shift.astype(np.float32)
            if large_offset(s32, c32[counts > 0]):
                c32 = (onehot @ (H - s32)) / n_safe + s32
        Xc = H - c32[inv]
        A = c32.astype(np.float64) - shift
    else:
        if prior is not None:
            A = prior - shift
        else:
            Xs = np.empty(H.shape, dtype=np.float32)
            np.subtract(H, shift, out=Xs, casting="unsafe")
            A = ((onehot @ Xs) / n_safe).astype(np.float64)
        Xc = np.empty(H.shape, dtype=np.float32)
        np.subtract(H, (shift + A)[inv], out=Xc, casting="unsafe")
    resid = (onehot @ Xc).astype(np.float64)
    W = []
    for g in _split(mult):
        rows = g[inv]
        Xm = Xc if rows.all() else Xc[rows]
        W.append(Xm.T @ Xm if Xm.shape[0] else np.zeros((d, d), dtype=np.float32))
    return _centered_finish(A, resid, counts, W, mult)


def raw_moments_torch(X: Any, inv: Any, mult: np.ndarray) -> BatchMoments:
    """:func:`raw_moments_numpy` on a torch tensor, reduced on its device.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_mlabnc.collapse._accumulate import raw_moments_torch
    >>> X = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    >>> raw_moments_torch(X, torch.tensor([0, 0]), np.array([1])).scatter_single.tolist()
    [[10.0]]
    """
    import torch

    S, d = len(mult), X.shape[1]
    sums = torch.zeros((S, d), dtype=X.dtype, device=X.device).index_add_(0, inv, X)
    counts = torch.bincount(inv, minlength=S)
    row_mult = torch.from_numpy(mult).to(X.device)[inv]
    out = []
    for mask in (row_mult == 1, row_mult >= 2):
        Xm = X[mask]
        T = Xm.T @ Xm if Xm.shape[0] else torch.zeros((d, d), dtype=X.dtype)
        out.append(T.cpu().numpy())
    return BatchMoments(counts.cpu().numpy(), sums.cpu().numpy(), out[0], out[1])


def centered_moments_torch(
    X: Any, inv: Any, mult: np.ndarray, shift: np.ndarray, prior: np.ndarray | None = None
) -> BatchMoments:
    """:func:`centered_moments_numpy` on a torch tensor, reduced on its device.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_mlabnc.collapse._accumulate import centered_moments_torch
    >>> X = torch.tensor([[1.0], [3.0]])
    >>> m = centered_moments_torch(X, torch.tensor([0, 0]), np.array([1]), np.zeros(1))
    >>> m.scatter_single.tolist()
    [[10.0]]
    """
    import torch

    S, d, dev = len(mult), X.shape[1], X.device

    def group_sums(X):
        # one memory-bound pass; cheaper than the onehot^T X product with more than a
        # handful of groups
        return torch.zeros((S, d), dtype=torch.float32, device=dev).index_add_(0, inv, X)

    counts_t = torch.bincount(inv, minlength=S)
    counts = counts_t.cpu().numpy()
    n_safe = counts_t.clamp_min(1)[:, None]
    if prior is not None and np.isnan(prior[counts > 0]).any():
        prior = None  # a group seen for the first time: this batch's means
    if X.dtype != torch.float64:
        X = X.float()
        # the centres on the host too (c_host), copied from the device at most once
        if prior is not None:
            c_host = prior.astype(np.float32)
            c32 = torch.as_tensor(c_host, device=dev)
        else:
            c32 = group_sums(X) / n_safe
            c_host = c32.cpu().numpy()
            s32 = shift.astype(np.float32)
            if large_offset(s32, c_host[counts > 0]):
                s32_t = torch.as_tensor(s32, device=dev)
                c32 = group_sums(X - s32_t) / n_safe + s32_t
                c_host = c32.cpu().numpy()
        Xc = X - c32.index_select(0, inv)
        A = c_host.astype(np.float64) - shift
    else:
        shift_t = torch.as_tensor(shift, device=dev)
        if prior is not None:
            A = prior - shift
        else:
            A = (group_sums((X - shift_t).float()) / n_safe).cpu().numpy().astype(np.float64)
        ref = shift_t + torch.as_tensor(A, device=dev)
        Xc = (X - ref.index_select(0, inv)).float()
    resid = group_sums(Xc).cpu().numpy().astype(np.float64)
    W = []
    for g in _split(mult):
        if not g.any():
            W.append(np.zeros((d, d), dtype=np.float32))
            continue
        Xm = Xc if g.all() else Xc[torch.from_numpy(g).to(dev)[inv]]
        W.append((Xm.T @ Xm).cpu().numpy())

    def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()

    return _centered_finish(A, resid, counts, W, mult, matmul)


def finite_moments(m: BatchMoments) -> bool:
    """Whether the sums and scatter diagonals are finite (a NaN or inf row shows there)."""
    return bool(
        np.isfinite(m.sums).all()
        and np.isfinite(np.diagonal(m.scatter_single)).all()
        and np.isfinite(np.diagonal(m.scatter_multi)).all()
    )


def all_finite(H: Any, chunk: int) -> bool:
    """Whether every entry of ``H`` (numpy, scipy sparse or torch) is finite, by chunks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import all_finite
    >>> all_finite(np.array([[1.0, np.nan]]), 8)
    False
    """
    if sp.issparse(H):
        return bool(np.all(np.isfinite(H.data)))
    n = int(H.shape[0])
    if is_torch(H):
        # reduce on the device and read the flag once, not once per chunk
        ok = H[:0].isfinite().all()
        for a in range(0, n, chunk):
            ok &= H[a : a + chunk].isfinite().all()
        return bool(ok)
    return all(bool(np.all(np.isfinite(H[a : a + chunk]))) for a in range(0, n, chunk))


def is_class_labels(Y: Any) -> bool:
    """Whether ``Y`` is 1-D (class labels) rather than a 2-D indicator.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._accumulate import is_class_labels
    >>> is_class_labels([0, 2, 1]), is_class_labels([[0, 1]])
    (True, False)
    """
    if is_torch(Y) or sp.issparse(Y):
        return Y.ndim == 1
    return np.ndim(Y) == 1


def chunk_moments(
    H: Any,
    labels: Any,
    K: int,
    a: int,
    b: int,
    kernel: str,
    shift: Any,
    prior: Callable[[list[bytes]], np.ndarray | None] | None = None,
) -> tuple[tuple[list[bytes], np.ndarray, BatchMoments], np.ndarray]:
    """Label-set keys, bool rows and moments of rows ``a:b`` of ``H`` under ``kernel``.

    ``labels`` is an :class:`IndicatorMatrix` or 1-D class indices; ``shift`` is the
    statistics' shift, or None to set it from this chunk (its mean). ``prior`` maps
    label-set keys to the known means (rows of NaN where unknown), used as the float32
    kernel's centres. Returns the triple and the shift.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._accumulate import chunk_moments
    >>> H = np.array([[1.0], [3.0], [5.0]])
    >>> (keys, rows, m), shift = chunk_moments(H, np.array([0, 0, 1]), 2, 0, 3, "float64", None)
    >>> rows.astype(int).tolist(), m.counts.tolist(), shift.tolist()
    ([[1, 0], [0, 1]], [2, 1], [3.0])
    """
    torch_in = is_torch(H)
    keys: list[bytes] | None = None
    if isinstance(labels, IndicatorMatrix):
        Yb = labels.numpy_chunk(a, b)
        inv = onehot_classes(Yb)
        if inv is None:  # multi-label: group the distinct rows
            urows, inv = unique_rows(Yb)
            rows = np.unpackbits(urows, axis=1, count=K).astype(bool)
            keys, mult = [r.tobytes() for r in urows], rows.sum(axis=1)
    else:
        inv = labels[a:b]
    if keys is None:  # classes: groups are the K singleton sets
        mult = np.ones(K, dtype=np.int64)
    # with about as many label sets as rows, the float64 between-set part of the float32
    # kernel would cost more than the whole float64 kernel
    many_groups = keys is not None and len(mult) > max(64, (b - a) // 16)

    def centres() -> np.ndarray | None:
        if prior is None:
            return None
        return prior(keys if keys is not None else class_keys(np.arange(K), K)[0])

    if torch_in:
        import torch

        X = H[a:b].detach()
        inv = torch.as_tensor(inv).to(X.device)
        if kernel == "float64" or many_groups:
            X = X.to(torch.float64)
            if shift is None:
                shift = X.mean(0, dtype=torch.float64).cpu().numpy()
            m = raw_moments_torch(X - torch.as_tensor(shift, device=X.device), inv, mult)
        else:
            if shift is None:
                shift = X.mean(0, dtype=torch.float64).cpu().numpy()
            with np.errstate(all="ignore"):  # non-finite rows are reported by the caller
                m = centered_moments_torch(X, inv, mult, shift, centres())
    else:
        Hc = H[a:b].toarray() if sp.issparse(H) else H[a:b]
        inv = inv.cpu().numpy() if is_torch(inv) else inv
        if kernel == "float64" or many_groups:
            X = np.array(Hc, dtype=np.float64, copy=True)
            if shift is None:
                shift = X.mean(axis=0, dtype=np.float64)
            X -= shift
            m = raw_moments_numpy(X, inv, mult)
        else:
            if shift is None:
                shift = np.mean(Hc, axis=0, dtype=np.float64)
            with np.errstate(all="ignore"):  # non-finite rows are reported by the caller
                m = centered_moments_numpy(Hc, inv, mult, shift, centres())
    if keys is None:
        present = np.flatnonzero(m.counts)
        keys, rows = class_keys(present, K)
        m = BatchMoments(m.counts[present], m.sums[present], m.scatter_single, m.scatter_multi)
    return (keys, rows, m), shift
