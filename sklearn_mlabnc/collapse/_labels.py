"""Label indicators: conversion, validation, distinct label sets and label statistics.

Every part of the library that accepts labels ``Y`` goes through this module: 1-D class
labels become a one-hot indicator (:func:`as_indicator`), 0/1 indicators (numpy, scipy
sparse or torch) are validated (:func:`check_indicator`) and served in row chunks
(:class:`IndicatorMatrix`), and the distinct rows of an indicator (the *label sets*) are
found and put in canonical order (:func:`unique_rows`, :func:`canonical_order`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "IndicatorMatrix",
    "as_indicator",
    "canonical_order",
    "check_indicator",
    "is_torch",
    "label_statistics",
    "module_root",
    "shape_str",
    "unique_rows",
]


def module_root(x: Any) -> str:
    """Top-level package of ``x``'s type (``'numpy'``, ``'torch'``, ``'dask'``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._labels import module_root
    >>> module_root(np.zeros(2))
    'numpy'
    """
    return type(x).__module__.split(".")[0]


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch object, without importing torch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._labels import is_torch
    >>> is_torch(np.zeros(2))
    False
    """
    return module_root(x) == "torch"


def shape_str(shape: Any) -> str:
    """A shape as ``(a, b)`` with plain ints (torch and numpy shapes alike).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._labels import shape_str
    >>> shape_str((3, 2))
    '(3, 2)'
    """
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def check_indicator(Y: Any, *, name: str = "Y") -> Any:
    """Validate a 2-D 0/1 (or bool) label indicator and return it in a checked form.

    Parameters
    ----------
    Y : array-like, scipy sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        The indicator.
    name : str, default="Y"
        Name used in error messages.

    Returns
    -------
    indicator : ndarray, scipy.sparse.csr_array or torch.Tensor
        ``Y`` as a numpy array (array-likes), a CSR array (sparse input) or the detached
        tensor (torch input); values are not copied or cast.

    Raises
    ------
    ValueError
        If ``Y`` is not 2-D, or holds values other than 0 and 1.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._labels import check_indicator
    >>> check_indicator([[1, 0], [0, 1]]).shape
    (2, 2)
    >>> check_indicator([[2, 0]])
    Traceback (most recent call last):
    ...
    ValueError: Y must be a 0/1 indicator matrix
    """
    if is_torch(Y):
        import torch

        if Y.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D (n_samples, n_labels) indicator; "
                f"got shape {shape_str(Y.shape)}"
            )
        if Y.dtype != torch.bool:
            if Y.is_complex() or not bool(((Y == 0) | (Y == 1)).all()):
                raise ValueError(f"{name} must be a 0/1 indicator matrix")
        return Y.detach()
    if sp.issparse(Y):
        if Y.ndim != 2:
            raise ValueError(f"{name} must be 2-D; got shape {shape_str(Y.shape)}")
        Y = sp.csr_array(Y)
        if Y.data.size and not np.all((Y.data == 0) | (Y.data == 1)):
            raise ValueError(f"{name} must be a 0/1 indicator matrix")
        return Y
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (n_samples, n_labels) indicator; got shape {shape_str(Y.shape)}"
        )
    if Y.dtype != np.bool_:
        if Y.dtype.kind not in "biuf" or not np.all((Y == 0) | (Y == 1)):
            raise ValueError(f"{name} must be a 0/1 indicator matrix")
    return Y


def as_indicator(
    y: Any, *, classes: np.ndarray | None = None, name: str = "Y"
) -> tuple[Any, np.ndarray | None]:
    """Label indicator of ``y``: 1-D class labels are one-hot encoded, 2-D is kept.

    Parameters
    ----------
    y : array-like, scipy sparse matrix or DataFrame of shape (n_samples,) or \
(n_samples, n_labels)
        1-D class labels, or a 2-D label indicator (returned as an array, or as a CSR
        array when sparse; its values are checked by :func:`check_indicator` where it
        is used).
    classes : ndarray of shape (n_classes,), default=None
        Column order of the one-hot encoding of 1-D ``y`` (default: the sorted unique
        values of ``y``). Ignored for 2-D ``y``.
    name : str, default="Y"
        Name used in error messages.

    Returns
    -------
    indicator : ndarray of shape (n_samples, n_labels) or scipy.sparse.csr_array
        The indicator (``int8`` one-hot for 1-D ``y``).
    classes : ndarray of shape (n_labels,) or None
        The classes of a 1-D ``y`` (the columns of ``indicator``), None for 2-D ``y``.

    Raises
    ------
    ValueError
        If ``y`` is neither 1-D nor 2-D, or 1-D with a value not in ``classes``.

    Examples
    --------
    >>> from sklearn_mlabnc.collapse._labels import as_indicator
    >>> ind, classes = as_indicator(["b", "a", "b"])
    >>> ind.tolist(), classes.tolist()
    ([[0, 1], [1, 0], [0, 1]], ['a', 'b'])
    >>> as_indicator([[1, 0], [1, 1]])[1] is None
    True
    """
    if sp.issparse(y):
        return sp.csr_array(y), None
    arr = np.asarray(y)
    if arr.ndim == 2:
        return arr, None
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of classes or a 2-D label indicator; "
            f"got shape {arr.shape}."
        )
    if classes is None:
        classes = np.unique(arr)
    else:
        classes = np.asarray(classes)
        unknown = np.setdiff1d(arr, classes)
        if unknown.size:
            raise ValueError(
                f"{name} has classes {unknown[:10].tolist()} that are not among the known "
                f"classes {classes[:10].tolist()}; pass labels from the fitted classes."
            )
    return (arr[:, None] == classes[None, :]).astype(np.int8), classes


class IndicatorMatrix:
    """Validated 0/1 indicator matrix (numpy, scipy sparse or torch) served in row chunks.

    Parameters
    ----------
    Y : array-like, scipy sparse matrix or torch.Tensor of shape (n, K)
        The indicator, validated by :func:`check_indicator`.
    name : str, default="Y"
        Name used in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._labels import IndicatorMatrix
    >>> ind = IndicatorMatrix(np.array([[1, 0], [0, 1], [1, 1]]))
    >>> ind.n, ind.K, ind.numpy_chunk(1, 3).tolist()
    (3, 2, [[False, True], [True, True]])
    """

    def __init__(self, Y: Any, name: str = "Y") -> None:
        self.name = name
        self.obj = check_indicator(Y, name=name)
        if is_torch(self.obj):
            self.kind = "torch"
        elif sp.issparse(self.obj):
            self.kind = "sparse"
        else:
            self.kind = "numpy"
        self.n, self.K = (int(s) for s in self.obj.shape)

    def numpy_chunk(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` as a bool numpy array."""
        if self.kind == "torch":
            return (self.obj[a:b] != 0).cpu().numpy()
        if self.kind == "sparse":
            return self.obj[a:b].toarray() != 0
        return self.obj[a:b] != 0

    def torch_chunk(self, a: int, b: int, device: Any) -> Any:
        """Rows ``a:b`` as a bool torch tensor on ``device``."""
        import torch

        if self.kind == "torch":
            return (self.obj[a:b] != 0).to(device)
        return torch.from_numpy(self.numpy_chunk(a, b)).to(device)


def unique_rows(Yb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of a bool matrix as packed bytes, and the inverse index (vectorised).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._labels import unique_rows
    >>> packed, inv = unique_rows(np.array([[1, 0], [0, 1], [1, 0]], dtype=bool))
    >>> len(packed), inv.tolist()
    (2, [1, 0, 1])
    """
    n = Yb.shape[0]
    packed = np.packbits(Yb, axis=1)
    nb = packed.shape[1]
    if nb <= 8:
        buf = np.zeros((n, 8), dtype=np.uint8)
        buf[:, :nb] = packed
        keys = buf.view(np.uint64).ravel()
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        return packed[first], inv.ravel()
    # more than 64 labels: sort the rows as tuples of uint64 words (much faster than
    # np.unique(axis=0), which compares structured records)
    nw = -(-nb // 8)
    buf = np.zeros((n, 8 * nw), dtype=np.uint8)
    buf[:, :nb] = packed
    words = buf.view(np.uint64)
    order = np.lexsort(words.T[::-1])
    sw = words[order]
    change = np.empty(n, dtype=bool)
    change[:1] = True
    change[1:] = np.any(sw[1:] != sw[:-1], axis=1)
    inv = np.empty(n, dtype=np.intp)
    inv[order] = np.cumsum(change) - 1
    return packed[order[change]], inv


def canonical_order(sets: np.ndarray) -> np.ndarray:
    """Order of label sets by multiplicity, then lexicographically by label index.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse._labels import canonical_order
    >>> canonical_order(np.array([[1, 1], [0, 1], [1, 0]], dtype=bool)).tolist()
    [2, 1, 0]
    """
    keys = [(int(row.sum()), tuple(np.flatnonzero(row).tolist())) for row in sets]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.intp)


def label_statistics(stats_or_Y: Any) -> dict[str, Any]:
    """Label-set counts and the spectrum of the label second-moment matrix.

    Parameters
    ----------
    stats_or_Y : CollapseStatistics or array-like of shape (n, K)
        Fitted statistics or a 0/1 indicator matrix (numpy, scipy sparse or torch).

    Returns
    -------
    stats : dict
        ``n_samples``; ``n_labels``; ``label_sets`` (``(S, K)`` bool, sorted by
        multiplicity then labels); ``counts`` (per set); ``multiplicities`` (per set);
        ``multiplicity_counts`` (``{m: samples}``); ``sets_per_multiplicity``
        (``{m: distinct sets}``); ``count_range`` (``{m: (min, max)}`` set counts within a
        multiplicity; unequal means imbalance); ``label_frequencies`` (``E[y]``);
        ``second_moment_eigenvalues`` (of ``E[y y^T]``, descending) and
        ``covariance_eigenvalues`` (of ``E[y y^T] - E[y] E[y]^T``, descending).

    Examples
    --------
    >>> from sklearn_mlabnc.collapse import label_statistics
    >>> st = label_statistics([[1, 0], [0, 1], [1, 1], [1, 0]])
    >>> st["multiplicity_counts"], st["counts"].tolist()
    ({1: 3, 2: 1}, [2, 1, 1])
    >>> st["second_moment_eigenvalues"].round(6).tolist()
    [0.904508, 0.345492]
    """
    # statistics objects are recognised by their interface: this module sits below them
    if callable(getattr(type(stats_or_Y), "partial_fit", None)):
        sets, counts = stats_or_Y.label_sets_, stats_or_Y.counts_
        K, n = stats_or_Y.n_labels_, stats_or_Y.n_samples_
    else:
        ind = IndicatorMatrix(stats_or_Y)
        K, n = ind.K, ind.n
        table: dict[bytes, list[Any]] = {}
        step = max(1024, (1 << 24) // max(K, 1))
        for a in range(0, n, step):
            urows, inv = unique_rows(ind.numpy_chunk(a, a + step))
            cnt = np.bincount(inv, minlength=len(urows))
            for r, c in zip(urows, cnt, strict=True):
                entry = table.setdefault(r.tobytes(), [r, 0])
                entry[1] += int(c)
        if table:
            packed = np.array([v[0] for v in table.values()])
            sets = np.unpackbits(packed, axis=1, count=K).astype(bool)
            counts = np.array([v[1] for v in table.values()], dtype=np.int64)
            order = canonical_order(sets)
            sets, counts = sets[order], counts[order]
        else:
            sets, counts = np.zeros((0, K), dtype=bool), np.zeros(0, dtype=np.int64)
    mult = sets.sum(axis=1).astype(np.int64)
    ms = sorted(int(m) for m in np.unique(mult))
    F = sets.astype(np.float64)
    if n > 0:
        second = (F.T * counts) @ F / n
        freq = counts @ F / n
    else:
        second, freq = np.full((K, K), np.nan), np.full(K, np.nan)
    cov = second - np.outer(freq, freq)
    eig2 = np.linalg.eigvalsh(second)[::-1] if n > 0 else np.full(K, np.nan)
    eigc = np.linalg.eigvalsh(cov)[::-1] if n > 0 else np.full(K, np.nan)
    return {
        "n_samples": int(n),
        "n_labels": int(K),
        "label_sets": sets,
        "counts": counts,
        "multiplicities": mult,
        "multiplicity_counts": {m: int(counts[mult == m].sum()) for m in ms},
        "sets_per_multiplicity": {m: int((mult == m).sum()) for m in ms},
        "count_range": {
            m: (int(counts[mult == m].min()), int(counts[mult == m].max())) for m in ms
        },
        "label_frequencies": freq,
        "second_moment_eigenvalues": eig2,
        "covariance_eigenvalues": eigc,
    }
