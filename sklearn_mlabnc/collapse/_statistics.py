"""Mergeable sufficient statistics for multi-label neural-collapse metrics.

:class:`CollapseStatistics` streams over ``(H, Y)`` batches and keeps, per *label set*
(a distinct row pattern of the indicator matrix ``Y``), the sample count and the feature
sum, plus two ``d x d`` scatter matrices: one over the multiplicity-1 samples and one over
the samples of multiplicity >= 2. Every metric in :mod:`sklearn_mlabnc.collapse` is a
function of these quantities, so a one-shot, a batched and a merged computation agree to
rounding error, and memory is ``O(n_sets * d + d**2)`` whatever the number of samples.

Numerical stability: all sums and scatters are accumulated relative to a fixed *shift*
``c`` (the mean of the first non-empty chunk). The within-class scatter of a class subset
is then ``sum_i (h_i - c)(h_i - c)^T - sum_S n_S (mu_S - c)(mu_S - c)^T``, which does not
suffer from the catastrophic cancellation of the unshifted formula when the features share
a large common offset. Two statistics with different shifts are merged exactly by
re-expressing the second one relative to the first one's shift.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._accumulate import (
    all_finite,
    chunk_moments,
    class_indices,
    finite_moments,
    is_class_labels,
    resolve_dtype,
)
from ._labels import IndicatorMatrix, canonical_order, is_torch, shape_str
from ._summary import CollapseSummary

__all__ = ["CollapseStatistics"]


class CollapseStatistics:
    """Mergeable sufficient statistics of features grouped by label set.

    Accumulates, batch by batch, everything the MLab NC metrics need: per label set
    (distinct row of the indicator ``Y``) the count and the feature sum, and two ``d x d``
    scatter matrices (multiplicity-1 samples; multiplicity >= 2 samples), all relative to
    a fixed shift for numerical stability. Memory is ``O(n_sets * d + d**2)``, independent
    of the number of samples. Label sets are discovered on the fly.

    Rows of ``Y`` without any positive label form the *empty* label set (multiplicity 0):
    they are counted (``n_samples_``, ``counts_``, ``means_``, and NC4 prototypes) but take
    part in no scatter and are excluded from every singleton-based metric and from the
    ``'label_sets'`` NC1 convention.

    Parameters
    ----------
    dtype : {'auto', np.float32, np.float64}, default='auto'
        Precision of the per-batch kernels; the accumulators are always ``float64``.
        ``float64``: plain float64 sums and scatters. ``float32``: every row is centred on
        its label set's mean (of the earlier batches, else of this batch) and the
        within-set scatter is one float32 matrix product (about twice as fast), the rest
        being added back exactly in float64 (see ``_accumulate``); the
        within-class covariance keeps about seven significant digits (NC1 agrees with
        ``float64`` to about ``1e-7`` relative, also near collapse and under large
        offsets). ``'auto'``: ``float32`` for float32 (or narrower) features, which hold
        no more digits anyway, ``float64`` otherwise. Torch inputs are reduced on their
        own device; only the small ``(sets, d)`` and ``(d, d)`` results reach the host.
    chunk_size : int or None, default=None
        Rows processed at once inside :meth:`partial_fit` (bounds temporary memory). The
        default uses chunks of about 64 MB of ``float64`` features.

    Attributes
    ----------
    n_samples_ : int
        Number of rows seen (including empty-label-set rows).
    n_features_in_ : int
        Feature dimension ``d``.
    n_labels_ : int
        Number of labels ``K``.
    label_sets_ : ndarray of shape (n_sets, K), dtype=bool
        Observed label sets, sorted by multiplicity then lexicographically by label index.
    counts_ : ndarray of shape (n_sets,), dtype=int64
        Samples per label set.
    multiplicities_ : ndarray of shape (n_sets,), dtype=int64
        Size of each label set.
    means_ : ndarray of shape (n_sets, d)
        Mean feature per label set (a property computed from the sums).
    shift_ : ndarray of shape (d,)
        The fixed shift the sums and scatters are taken relative to.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import CollapseStatistics
    >>> rng = np.random.default_rng(0)
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 1], [1, 1]])
    >>> H = rng.normal(size=(6, 3))
    >>> stats = CollapseStatistics().partial_fit(H[:3], Y[:3]).partial_fit(H[3:], Y[3:])
    >>> stats.n_samples_, stats.label_sets_.astype(int).tolist(), stats.counts_.tolist()
    (6, [[1, 0], [0, 1], [1, 1]], [2, 2, 2])
    >>> a = CollapseStatistics().partial_fit(H[:2], Y[:2])
    >>> b = CollapseStatistics().partial_fit(H[2:], Y[2:])
    >>> bool(np.allclose((a + b).means_, stats.means_))
    True
    """

    def __init__(self, dtype: Any = "auto", chunk_size: int | None = None) -> None:
        self.dtype = dtype
        self.chunk_size = chunk_size
        self._reset()

    # ------------------------------------------------------------------ state
    def _reset(self) -> None:
        self._K: int | None = None
        self._d: int | None = None
        self._n = 0
        self._shift: np.ndarray | None = None
        self._index: dict[bytes, int] = {}
        self._keys: list[bytes] = []
        self._n_sets = 0
        self._sets = np.zeros((0, 0), dtype=bool)
        self._mult = np.zeros(0, dtype=np.int64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._sums = np.zeros((0, 0))
        self._T1 = np.zeros((0, 0))
        self._TM = np.zeros((0, 0))
        self._order: np.ndarray | None = None

    def _is_fitted(self) -> bool:
        return self._K is not None

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise AttributeError(
                "This CollapseStatistics instance is not fitted yet; call partial_fit first."
            )

    def _init_dims(self, K: int, d: int) -> None:
        dt = np.float64  # the accumulators; ``dtype`` selects the per-batch kernels
        self._K, self._d = K, d
        self._sets = np.zeros((8, K), dtype=bool)
        self._mult = np.zeros(8, dtype=np.int64)
        self._counts = np.zeros(8, dtype=np.int64)
        self._sums = np.zeros((8, d), dtype=dt)
        self._T1 = np.zeros((d, d), dtype=dt)
        self._TM = np.zeros((d, d), dtype=dt)

    def _ensure_capacity(self, n_sets: int) -> None:
        cap = self._sums.shape[0]
        if n_sets <= cap:
            return
        new = max(n_sets, 2 * cap)
        for name in ("_sets", "_mult", "_counts", "_sums"):
            old = getattr(self, name)
            arr = np.zeros((new,) + old.shape[1:], dtype=old.dtype)
            arr[: old.shape[0]] = old
            setattr(self, name, arr)

    def _lookup(self, keys: list[bytes], rows: np.ndarray) -> np.ndarray:
        """Global indices of label sets given by packed keys; unseen sets are appended."""
        out = np.empty(len(keys), dtype=np.intp)
        new = []
        for i, key in enumerate(keys):
            j = self._index.get(key)
            if j is None:
                j = self._n_sets + len(new)
                self._index[key] = j
                self._keys.append(key)
                new.append(i)
            out[i] = j
        if new:
            self._ensure_capacity(self._n_sets + len(new))
            sel = out[new]
            self._sets[sel] = rows[new]
            self._mult[sel] = rows[new].sum(axis=1)
            self._n_sets += len(new)
            self._order = None
        return out

    def _prior_means(self, keys: list[bytes]) -> np.ndarray | None:
        """Means of the label sets ``keys`` so far (NaN rows for unseen sets), or None."""
        if self._shift is None or not self._n_sets:
            return None
        idx = np.array([self._index.get(k, -1) for k in keys], dtype=np.intp)
        out = np.full((len(keys), self._d), np.nan)
        ok = idx >= 0
        out[ok] = self._shift + self._sums[idx[ok]] / self._counts[idx[ok], None]
        return out

    # --------------------------------------------------------------- fitting
    def partial_fit(self, H: Any, Y: Any, *, n_labels: int | None = None) -> CollapseStatistics:
        """Accumulate one batch of features and labels.

        Parameters
        ----------
        H : array-like, scipy sparse matrix or torch.Tensor of shape (n_samples, d)
            Features. Torch tensors are reduced on their device (sparse matrices are
            densified chunk by chunk).
        Y : array-like, scipy sparse matrix or torch.Tensor of shape (n_samples, K) \
or (n_samples,)
            0/1 (or bool) label indicator matrix, or 1-D integer class labels
            ``0 .. K-1`` (multiclass: each sample has the singleton label set of its
            class; equivalent to the one-hot indicator, and faster).
        n_labels : int, optional
            ``K`` for 1-D class labels on the first call (default: ``max(Y) + 1``; pass
            it when a later batch may hold a larger class). Must equal ``K`` if given.

        Returns
        -------
        self : CollapseStatistics
            The updated statistics.

        Raises
        ------
        ValueError
            On shape mismatch, non-0/1 ``Y``, NaN or inf in ``H``, or a ``K`` / ``d`` that
            differs from earlier batches. The statistics are left unchanged on error.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.collapse import CollapseStatistics
        >>> stats = CollapseStatistics().partial_fit(np.eye(3), np.eye(3, dtype=int))
        >>> stats.n_samples_, stats.n_labels_, stats.n_features_in_
        (3, 3, 3)
        >>> CollapseStatistics().partial_fit(np.eye(3), [0, 1, 2]).counts_.tolist()
        [1, 1, 1]
        """
        if is_class_labels(Y):
            y, K = class_indices(Y, self._K if self._is_fitted() else n_labels)
            labels, n_y = y, int(y.shape[0])
        else:
            labels = IndicatorMatrix(Y)
            K, n_y = labels.K, labels.n
        if n_labels is not None and K != n_labels:
            raise ValueError(f"Y has K={K} labels but n_labels={n_labels}; they must match")
        torch_in = is_torch(H)
        if torch_in:
            if H.ndim != 2:
                raise ValueError(
                    f"H must be 2-D (n_samples, n_features); got shape {shape_str(H.shape)}"
                )
            if H.is_complex():
                raise ValueError("H must be real-valued")
        elif sp.issparse(H):
            H = sp.csr_array(H)
        else:
            H = np.asarray(H)
            if H.ndim != 2:
                raise ValueError(
                    f"H must be 2-D (n_samples, n_features); got shape {shape_str(H.shape)}"
                )
            if H.dtype.kind not in "biuf":
                raise ValueError(f"H must be numeric; got dtype {H.dtype}")
        n, d = (int(s) for s in H.shape)
        if n_y != n:
            raise ValueError(f"H has {n} rows but Y has {n_y}; they must match")
        if self._is_fitted():
            if K != self._K:
                raise ValueError(f"Y has K={K} labels but earlier batches had K={self._K}")
            if d != self._d:
                raise ValueError(f"H has d={d} features but earlier batches had d={self._d}")
        kernel = resolve_dtype(self.dtype, H)
        chunk = self.chunk_size or max(1024, (1 << 23) // max(d, 1))
        # float64: validation pass first; float32: non-finite features show up in the
        # (small) batch results, checked before anything is committed
        if kernel == "float64" and not all_finite(H, chunk):
            raise ValueError("H contains NaN or infinity")
        if n == 0:
            if not self._is_fitted():
                self._init_dims(K, d)
            return self
        shift = self._shift
        parts = []
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            part, shift = chunk_moments(H, labels, K, a, b, kernel, shift, self._prior_means)
            parts.append(part)
        if kernel == "float32" and not all(finite_moments(m) for _, _, m in parts):
            if not all_finite(H, chunk):
                raise ValueError("H contains NaN or infinity")
            raise ValueError(
                "the float32 sums of H overflow (features too large for float32); "
                "use dtype=np.float64"
            )
        if not self._is_fitted():
            self._init_dims(K, d)
        self._shift = shift
        for keys, rows, m in parts:
            gidx = self._lookup(keys, rows)
            self._sums[gidx] += m.sums
            self._counts[gidx] += m.counts
            self._T1 += m.scatter_single
            self._TM += m.scatter_multi
        self._n += n
        self._order = None
        return self

    # --------------------------------------------------------------- merging
    def merge(self, other: CollapseStatistics) -> CollapseStatistics:
        """Merge another statistics object into this one (in place).

        Merging is exact and associative up to rounding: the other object's sums and
        scatters are re-expressed relative to this object's shift before being added.

        Parameters
        ----------
        other : CollapseStatistics
            Statistics of a disjoint set of samples with the same ``K`` and ``d``.

        Returns
        -------
        self : CollapseStatistics
            The merged statistics.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.collapse import CollapseStatistics
        >>> Y = np.eye(2, dtype=int).repeat(2, axis=0)
        >>> a = CollapseStatistics().partial_fit([[0.0], [1.0]], Y[:2])
        >>> b = CollapseStatistics().partial_fit([[5.0], [7.0]], Y[2:])
        >>> a.merge(b).means_.ravel().tolist()
        [0.5, 6.0]
        """
        if not isinstance(other, CollapseStatistics):
            raise TypeError(f"can only merge CollapseStatistics, not {type(other).__name__}")
        if not other._is_fitted():
            return self
        if not self._is_fitted():
            dtype, chunk = self.dtype, self.chunk_size
            self.__dict__.update(copy.deepcopy(other.__dict__))
            self.dtype, self.chunk_size = dtype, chunk
            return self
        if other._K != self._K:
            raise ValueError(f"cannot merge statistics with K={other._K} into K={self._K}")
        if other._d != self._d:
            raise ValueError(f"cannot merge statistics with d={other._d} into d={self._d}")
        if other._n == 0:
            return self
        if self._n == 0 or self._shift is None:
            self._shift = other._shift.copy()
        S = other._n_sets
        o_sums = other._sums[:S].astype(np.float64)
        o_counts = other._counts[:S]
        delta = other._shift - self._shift
        mult = other._mult[:S]
        for target, src, mask in (
            (self._T1, other._T1, mult == 1),
            (self._TM, other._TM, mult >= 2),
        ):
            t = o_sums[mask].sum(axis=0)
            m = float(o_counts[mask].sum())
            corr = np.outer(delta, t)
            target += src + corr + corr.T + m * np.outer(delta, delta)
        gidx = self._lookup(list(other._keys), other._sets[:S])
        self._sums[gidx] += o_sums + o_counts[:, None] * delta
        self._counts[gidx] += o_counts
        self._n += other._n
        self._order = None
        return self

    def __add__(self, other: CollapseStatistics) -> CollapseStatistics:
        if not isinstance(other, CollapseStatistics):
            return NotImplemented
        return copy.deepcopy(self).merge(other)

    def __radd__(self, other: Any) -> CollapseStatistics:
        if isinstance(other, int) and other == 0:  # support sum([...])
            return copy.deepcopy(self)
        return NotImplemented

    def __iadd__(self, other: CollapseStatistics) -> CollapseStatistics:
        if not isinstance(other, CollapseStatistics):
            return NotImplemented
        return self.merge(other)

    # ------------------------------------------------------- fitted attributes
    def _canonical_order(self) -> np.ndarray:
        if self._order is None:
            self._order = canonical_order(self._sets[: self._n_sets])
        return self._order

    @property
    def n_samples_(self) -> int:
        self._check_fitted()
        return int(self._n)

    @property
    def n_features_in_(self) -> int:
        self._check_fitted()
        return int(self._d)

    @property
    def n_labels_(self) -> int:
        self._check_fitted()
        return int(self._K)

    @property
    def label_sets_(self) -> np.ndarray:
        self._check_fitted()
        return self._sets[self._canonical_order()].copy()

    @property
    def counts_(self) -> np.ndarray:
        self._check_fitted()
        return self._counts[self._canonical_order()].copy()

    @property
    def multiplicities_(self) -> np.ndarray:
        self._check_fitted()
        return self._mult[self._canonical_order()].copy()

    @property
    def shift_(self) -> np.ndarray:
        self._check_fitted()
        if self._shift is None:
            return np.zeros(self._d)
        return self._shift.copy()

    @property
    def means_(self) -> np.ndarray:
        self._check_fitted()
        o = self._canonical_order()
        return self.shift_ + self._sums[o] / self._counts[o, None]

    def summary(self) -> CollapseSummary:
        """The accumulated statistics, in canonical label-set order, as a frozen summary.

        Returns
        -------
        summary : CollapseSummary
            Counts, feature sums (relative to ``shift_``), symmetrised scatters.

        Examples
        --------
        >>> from sklearn_mlabnc.collapse import CollapseStatistics
        >>> s = CollapseStatistics().partial_fit([[0.0], [2.0]], [[1], [1]]).summary()
        >>> s.n_samples, s.counts.tolist(), s.means.tolist()
        (2, [2], [[1.0]])
        """
        self._check_fitted()
        o = self._canonical_order()
        T1 = self._T1.astype(np.float64)
        TM = self._TM.astype(np.float64)
        return CollapseSummary(
            n_labels=int(self._K),
            n_features=int(self._d),
            n_samples=int(self._n),
            shift=self.shift_,
            label_sets=self._sets[o],
            multiplicities=self._mult[o],
            counts=self._counts[o],
            sums=self._sums[o].astype(np.float64),
            scatter_single=(T1 + T1.T) / 2,
            scatter_multi=(TM + TM.T) / 2,
        )

    # ---------------------------------------------------------- batch streams
    @classmethod
    def from_batches(
        cls,
        batches: Iterable[Sequence[Any]],
        *,
        transform: Callable[[Any], Any] | None = None,
        dtype: Any = "auto",
    ) -> CollapseStatistics:
        """Collapse statistics accumulated over an iterator of ``(H, Y)`` batches.

        Any iterable of pairs works (a ``torch.utils.data.DataLoader``, a generator, a
        list); each batch goes through :meth:`partial_fit`.

        Parameters
        ----------
        batches : iterable of (H, Y) pairs
            ``H`` of shape ``(batch, d)`` (numpy, scipy sparse or torch) and ``Y`` the
            matching ``(batch, K)`` 0/1 indicator. Extra items after the first two (e.g.
            sample weights) are ignored.
        transform : callable, optional
            Applied to the first item of every batch to get the features, e.g. a fitted
            network's feature extractor when the loader yields raw inputs ``(X, Y)``.
        dtype : {'auto', np.float32, np.float64}, default='auto'
            Precision of the per-batch kernels (see :class:`CollapseStatistics`).

        Returns
        -------
        stats : CollapseStatistics
            The accumulated statistics.

        Raises
        ------
        ValueError
            If ``batches`` is empty or a batch is not an ``(H, Y)`` pair.

        Examples
        --------
        >>> import torch
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from sklearn_mlabnc.collapse import CollapseStatistics
        >>> Y = torch.eye(2).repeat(50, 1)
        >>> H = 3 * Y + 0.1 * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
        >>> loader = DataLoader(TensorDataset(H, Y), batch_size=32)
        >>> stats = CollapseStatistics.from_batches(loader)
        >>> stats.n_samples_, stats.counts_.tolist()
        (100, [50, 50])
        """
        stats = cls(dtype=dtype)
        seen = False
        for i, batch in enumerate(batches):
            if isinstance(batch, dict) or not isinstance(batch, Sequence) or len(batch) < 2:
                raise ValueError(
                    f"batch {i} is a {type(batch).__name__}; expected an (H, Y) pair "
                    "(a tuple or list whose first two items are the features and the "
                    "indicator)"
                )
            h, y = batch[0], batch[1]
            if transform is not None:
                h = transform(h)
            stats.partial_fit(h, y)
            seen = True
        if not seen:
            raise ValueError("batches is empty: no (H, Y) pair to accumulate")
        return stats

    def __repr__(self) -> str:
        if not self._is_fitted():
            dt = self.dtype if isinstance(self.dtype, str) else np.dtype(self.dtype).name
            return f"CollapseStatistics(dtype={dt!r})"
        return (
            f"CollapseStatistics(n_samples={self._n}, n_label_sets={self._n_sets}, "
            f"n_labels={self._K}, n_features={self._d})"
        )
