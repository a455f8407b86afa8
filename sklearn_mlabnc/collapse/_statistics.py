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

from ._docstrings import REPORT_OPTIONS_DOC, Substitution
from ._labels import IndicatorMatrix, canonical_order, is_torch, shape_str, unique_rows
from ._report import CollapseReport, ReportOptions, report_from_summary
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
    dtype : numpy dtype, default=np.float64
        Accumulation dtype (``float64`` or ``float32``). Torch inputs are reduced on their
        own device in the matching torch dtype; only the small ``(sets, d)`` and ``(d, d)``
        results are moved to the host.
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

    def __init__(self, dtype: Any = np.float64, chunk_size: int | None = None) -> None:
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

    def _np_dtype(self) -> np.dtype:
        dt = np.dtype(self.dtype)
        if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"dtype must be float64 or float32; got {dt}")
        return dt

    def _is_fitted(self) -> bool:
        return self._K is not None

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise AttributeError(
                "This CollapseStatistics instance is not fitted yet; call partial_fit first."
            )

    def _init_dims(self, K: int, d: int) -> None:
        dt = self._np_dtype()
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

    # --------------------------------------------------------------- fitting
    def partial_fit(self, H: Any, Y: Any) -> CollapseStatistics:
        """Accumulate one batch of features and label indicators.

        Parameters
        ----------
        H : array-like, scipy sparse matrix or torch.Tensor of shape (n_samples, d)
            Features. Torch tensors are reduced on their device in float64 (sparse
            matrices are densified chunk by chunk).
        Y : array-like, scipy sparse matrix or torch.Tensor of shape (n_samples, K)
            0/1 (or bool) label indicator matrix.

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
        """
        ind = IndicatorMatrix(Y)
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
        if ind.n != n:
            raise ValueError(f"H has {n} rows but Y has {ind.n}; they must match")
        if self._is_fitted():
            if ind.K != self._K:
                raise ValueError(f"Y has K={ind.K} labels but earlier batches had K={self._K}")
            if d != self._d:
                raise ValueError(f"H has d={d} features but earlier batches had d={self._d}")
        dt = self._np_dtype()
        chunk = self.chunk_size or max(1024, (1 << 23) // max(d, 1))
        # validation pass first, so that a failing batch leaves the state untouched
        if torch_in:
            for a in range(0, n, chunk):
                if not bool(H[a : a + chunk].isfinite().all()):
                    raise ValueError("H contains NaN or infinity")
        elif sp.issparse(H):
            if not np.all(np.isfinite(H.data)):
                raise ValueError("H contains NaN or infinity")
        else:
            for a in range(0, n, chunk):
                if not np.all(np.isfinite(H[a : a + chunk])):
                    raise ValueError("H contains NaN or infinity")
        if not self._is_fitted():
            self._init_dims(ind.K, d)
        if n == 0:
            return self
        if torch_in:
            self._accumulate_torch(H, ind, chunk, dt)
        else:
            self._accumulate_numpy(H, ind, chunk, dt)
        self._n += n
        self._order = None
        return self

    def _accumulate_numpy(self, H: Any, ind: IndicatorMatrix, chunk: int, dt: np.dtype) -> None:
        n = ind.n
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            if sp.issparse(H):
                Hc = H[a:b].toarray().astype(dt, copy=False)
            else:
                Hc = np.array(H[a:b], dtype=dt, copy=True)
            if self._shift is None:
                self._shift = Hc.mean(axis=0, dtype=np.float64)
            Hc -= self._shift.astype(dt, copy=False)
            Yb = ind.numpy_chunk(a, b)
            urows, inv = unique_rows(Yb)
            rows = np.unpackbits(urows, axis=1, count=ind.K).astype(bool)
            gidx = self._lookup([r.tobytes() for r in urows], rows)
            nb, Sb = b - a, len(gidx)
            onehot = sp.csr_array((np.ones(nb, dtype=dt), (inv, np.arange(nb))), shape=(Sb, nb))
            self._sums[gidx] += onehot @ Hc
            self._counts[gidx] += np.bincount(inv, minlength=Sb)
            mult = self._mult[gidx][inv]
            for target, mask in ((self._T1, mult == 1), (self._TM, mult >= 2)):
                k = int(mask.sum())
                if k == 0:
                    continue
                X = Hc if k == nb else Hc[mask]
                target += X.T @ X

    def _accumulate_torch(self, H: Any, ind: IndicatorMatrix, chunk: int, dt: np.dtype) -> None:
        import torch

        tdt = torch.float64 if dt == np.dtype(np.float64) else torch.float32
        dev = H.device
        n, d = ind.n, self._d
        T1 = torch.zeros((d, d), dtype=tdt, device=dev)
        TM = torch.zeros((d, d), dtype=tdt, device=dev)
        shift_t = None
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            Hc = H[a:b].detach().to(dtype=tdt)
            if self._shift is None:
                self._shift = Hc.mean(0, dtype=torch.float64).cpu().numpy()
            if shift_t is None:
                shift_t = torch.as_tensor(self._shift, device=dev).to(tdt)
            Hc = Hc - shift_t
            if ind.kind == "torch":
                Yb = ind.torch_chunk(a, b, dev).to(torch.uint8)
                urows_t, inv = torch.unique(Yb, dim=0, return_inverse=True)
                rows = urows_t.cpu().numpy().astype(bool)
                urows = np.packbits(rows, axis=1)
            else:
                urows, inv_np = unique_rows(ind.numpy_chunk(a, b))
                rows = np.unpackbits(urows, axis=1, count=ind.K).astype(bool)
                inv = torch.from_numpy(inv_np.astype(np.int64)).to(dev)
            gidx = self._lookup([r.tobytes() for r in urows], rows)
            Sb = len(gidx)
            sums_b = torch.zeros((Sb, d), dtype=tdt, device=dev).index_add_(0, inv, Hc)
            counts_b = torch.bincount(inv, minlength=Sb)
            self._sums[gidx] += sums_b.cpu().numpy()
            self._counts[gidx] += counts_b.cpu().numpy()
            mult = torch.from_numpy(self._mult[gidx]).to(dev)[inv]
            for target, mask in ((T1, mult == 1), (TM, mult >= 2)):
                X = Hc[mask]
                if X.shape[0]:
                    target += X.T @ X
        self._T1 += T1.cpu().numpy()
        self._TM += TM.cpu().numpy()

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
            if np.dtype(dtype) != self._sums.dtype:
                for name in ("_sums", "_T1", "_TM"):
                    setattr(self, name, getattr(self, name).astype(self._np_dtype()))
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

    # ---------------------------------------------------------------- report
    @Substitution(report_options=REPORT_OPTIONS_DOC)
    def report(
        self, W: Any = None, b: Any = None, *, options: ReportOptions | None = None, **kwargs: Any
    ) -> CollapseReport:
        """Compute a :class:`CollapseReport` from the accumulated statistics.

        NC4 and the soft IoU need per-sample data and are NaN here (see
        :func:`~sklearn_mlabnc.collapse.collapse_report`).

        Parameters
        ----------
        W : array-like or torch.Tensor of shape (K, d), optional
            Classifier weights (for NC2 of the classifier and NC3).
        b : array-like or torch.Tensor of shape (K,), optional
            Classifier bias (for ``bias_deviation``).
        options : ReportOptions, default=None
            The conventions at once; keyword arguments override them.
        {report_options}

        Returns
        -------
        report : CollapseReport
            The metrics.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.collapse import CollapseStatistics
        >>> rng = np.random.default_rng(0)
        >>> Y = np.eye(3, dtype=int).repeat(20, axis=0)
        >>> H = 5 * Y + 0.1 * rng.normal(size=(60, 3))
        >>> rep = CollapseStatistics().partial_fit(H, Y).report()
        >>> rep.nc1 < 0.01, round(rep.nc2_means, 2)
        (True, 0.0)
        """
        opts = ReportOptions.from_kwargs(options, **kwargs)
        return report_from_summary(self.summary(), W=W, b=b, options=opts)

    # ---------------------------------------------------------- batch streams
    @classmethod
    def from_batches(
        cls,
        batches: Iterable[Sequence[Any]],
        *,
        transform: Callable[[Any], Any] | None = None,
        dtype: Any = np.float64,
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
        dtype : numpy dtype, default=np.float64
            Accumulation dtype.

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
            return f"CollapseStatistics(dtype={np.dtype(self.dtype).name})"
        return (
            f"CollapseStatistics(n_samples={self._n}, n_label_sets={self._n_sets}, "
            f"n_labels={self._K}, n_features={self._d})"
        )
