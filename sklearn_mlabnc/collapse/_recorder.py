"""Collapse statistics inside any PyTorch training loop: a forward hook on a named layer.

:class:`FeatureRecorder` hooks one layer of any ``torch.nn.Module`` and, while a batch is
being recorded, streams that layer's output (or input) with the batch's labels into a
:class:`~sklearn_mlabnc.collapse.CollapseStatistics`. The features are reduced on the
model's device and then dropped: only the ``O(n_sets * d + d**2)`` statistics are kept, so
recording costs no extra forward pass and no feature memory. Statistics of several epochs
or of several processes merge exactly. torch is needed only by the model itself and by
:meth:`FeatureRecorder.merge_ranks`; nothing here imports the rest of the library.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._metrics import collapse_report
from ._report import CollapseReport
from ._statistics import CollapseStatistics

__all__ = ["FeatureRecorder"]

_CAPTURES = ("output", "input")


class FeatureRecorder:
    """Record the collapse statistics of one layer's features during a PyTorch loop.

    Registers a forward hook on ``module.get_submodule(layer)``. Inside
    ``with recorder.record(y):`` the next call of that layer hands its features (flattened
    to ``(batch, d)`` and detached) with ``y`` to :meth:`CollapseStatistics.partial_fit
    <sklearn_mlabnc.collapse.CollapseStatistics.partial_fit>`; outside it the hook does
    nothing. Should the layer run more than once inside the block, its first call is the
    one recorded. The features stay on the model's device (torch tensors are reduced where they
    live) and are not kept.

    Recorded during training, an epoch's statistics mix the parameters of its successive
    steps, as a running training accuracy does; for the features of one parameter state,
    record a pass under ``torch.no_grad()`` in ``eval()`` mode instead.

    Parameters
    ----------
    module : torch.nn.Module
        The network (any module; a ``DistributedDataParallel`` wrapper is fine, name the
        layer as ``"module.<name>"`` then).
    layer : str
        Name of the layer whose features to record, as in ``module.named_modules()``
        (``""`` is ``module`` itself).
    capture : {"output", "input"}, default="output"
        Record the layer's output (a feature layer), or its first input (the classifier
        layer: its input is the penultimate feature).
    n_labels : int, optional
        ``K`` when the labels are 1-D class indices (multiclass) and a batch may miss the
        largest class.
    dtype : {"auto", numpy.float32, numpy.float64}, default="auto"
        Kernel precision of the statistics (see
        :class:`~sklearn_mlabnc.collapse.CollapseStatistics`).

    Attributes
    ----------
    statistics_ : CollapseStatistics
        The statistics recorded since creation or the last :meth:`reset`.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sklearn_mlabnc.collapse import FeatureRecorder
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    >>> recorder = FeatureRecorder(model, "2", capture="input")  # penultimate features
    >>> X, Y = torch.randn(8, 6), torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 2)
    >>> with recorder.record(Y):
    ...     logits = model(X)
    >>> recorder.statistics_.n_samples_, recorder.statistics_.n_features_in_
    (8, 4)
    >>> report = recorder.report(W=model[2].weight, b=model[2].bias)
    >>> sorted(report.nc_m)
    [2]
    >>> recorder.remove()
    """

    def __init__(
        self,
        module: Any,
        layer: str,
        *,
        capture: str = "output",
        n_labels: int | None = None,
        dtype: Any = "auto",
    ) -> None:
        if capture not in _CAPTURES:
            raise ValueError(f"capture must be 'output' or 'input'; got {capture!r}.")
        try:
            target = module.get_submodule(layer)
        except AttributeError:
            names = [name for name, _ in module.named_modules() if name][:20]
            raise ValueError(
                f"module has no layer named {layer!r}; its layers include {names}. Pass a "
                "name from module.named_modules()."
            ) from None
        self.module = module
        self.layer = layer
        self.capture = capture
        self.n_labels = n_labels
        self.dtype = dtype
        self.statistics_ = CollapseStatistics(dtype=dtype)
        self._labels: Any = None
        self._handle = target.register_forward_hook(self._hook)

    def _hook(self, layer: Any, inputs: tuple, output: Any) -> None:
        if self._labels is None:
            return
        features = inputs[0] if self.capture == "input" else output
        labels, self._labels = self._labels, None  # one call of the layer per batch
        features = features.detach()
        self.statistics_.partial_fit(
            features.reshape(features.shape[0], -1), labels, n_labels=self.n_labels
        )

    @contextmanager
    def record(self, y: Any) -> Iterator[FeatureRecorder]:
        """Record the features of the next call of the layer, with labels ``y``.

        Parameters
        ----------
        y : torch.Tensor or array-like of shape (batch, K) or (batch,)
            The batch's 0/1 label indicator (multi-label) or class indices (multiclass).

        Yields
        ------
        FeatureRecorder
            This recorder.

        Raises
        ------
        RuntimeError
            If the layer did not run inside the block (wrong layer name or a branch not
            taken), so that no batch goes silently unrecorded.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from sklearn_mlabnc.collapse import FeatureRecorder
        >>> model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
        >>> recorder = FeatureRecorder(model, "0")
        >>> with recorder.record(torch.tensor([0, 1])):
        ...     _ = model(torch.randn(2, 3))
        >>> recorder.statistics_.counts_.tolist()
        [1, 1]
        """
        self._labels = y
        try:
            yield self
        finally:
            missed, self._labels = self._labels is not None, None
        if missed:
            raise RuntimeError(
                f"layer {self.layer!r} did not run inside recorder.record(); call the model "
                "inside the block, and check the layer name."
            )

    def reset(self) -> FeatureRecorder:
        """Start new statistics (e.g. at the start of an epoch); the hook stays.

        Returns
        -------
        FeatureRecorder
            This recorder.

        Examples
        --------
        >>> from torch import nn
        >>> from sklearn_mlabnc.collapse import FeatureRecorder
        >>> import torch
        >>> recorder = FeatureRecorder(nn.Linear(2, 2), "")
        >>> with recorder.record(torch.tensor([0, 1])):
        ...     _ = recorder.module(torch.randn(2, 2))
        >>> recorder
        FeatureRecorder(layer='', capture='output', n_samples=2)
        >>> recorder.reset()
        FeatureRecorder(layer='', capture='output', n_samples=0)
        """
        self.statistics_ = CollapseStatistics(dtype=self.dtype)
        return self

    def report(self, W: Any = None, b: Any = None, **options: Any) -> CollapseReport:
        """The collapse report of the recorded statistics.

        Parameters
        ----------
        W : torch.Tensor or array-like of shape (K, d), optional
            Classifier weights (NC2 of the classifier, NC3).
        b : torch.Tensor or array-like of shape (K,), optional
            Classifier bias.
        **options
            Report conventions, forwarded to
            :func:`~sklearn_mlabnc.collapse.collapse_report`.

        Returns
        -------
        CollapseReport
            NC1, NC2, NC3, NC_m and the rest (NC4 and the soft IoU need per-sample data and
            are NaN).

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from sklearn_mlabnc.collapse import FeatureRecorder
        >>> model = nn.Sequential(nn.Linear(3, 3))
        >>> recorder = FeatureRecorder(model, "0")
        >>> with recorder.record(torch.tensor([0, 1, 2, 0, 1, 2])):
        ...     _ = model(torch.randn(6, 3))
        >>> recorder.report().nc1 >= 0
        True
        """
        return collapse_report(self.statistics_, W=_detached(W), b=_detached(b), **options)

    def merge_ranks(self, group: Any = None) -> CollapseStatistics:
        """The statistics of every process of a ``torch.distributed`` group, merged.

        Call it in every process (it is a collective); each receives the same merged
        :class:`~sklearn_mlabnc.collapse.CollapseStatistics`. Only the small statistics
        travel, never the features.

        Parameters
        ----------
        group : torch.distributed.ProcessGroup, optional
            The group (default: the default group).

        Returns
        -------
        CollapseStatistics
            The merge of every process's ``statistics_``.

        Examples
        --------
        >>> from torch import nn
        >>> from sklearn_mlabnc.collapse import FeatureRecorder
        >>> FeatureRecorder(nn.Linear(2, 2), "").merge_ranks()  # doctest: +SKIP
        """
        import torch.distributed as dist

        gathered: list[Any] = [None] * dist.get_world_size(group)
        dist.all_gather_object(gathered, self.statistics_, group=group)
        merged = CollapseStatistics(dtype=self.dtype)
        for part in gathered:
            merged.merge(part)
        return merged

    def remove(self) -> None:
        """Remove the forward hook; the statistics stay readable.

        Examples
        --------
        >>> from torch import nn
        >>> from sklearn_mlabnc.collapse import FeatureRecorder
        >>> layer = nn.Linear(2, 2)
        >>> FeatureRecorder(layer, "").remove()
        >>> len(layer._forward_hooks)
        0
        """
        self._handle.remove()

    def __repr__(self) -> str:
        try:
            n = self.statistics_.n_samples_
        except AttributeError:  # nothing recorded yet
            n = 0
        return f"FeatureRecorder(layer={self.layer!r}, capture={self.capture!r}, n_samples={n})"


def _detached(x: Any) -> Any:
    """A torch tensor without its autograd graph (parameters as plain values)."""
    return x.detach() if hasattr(x, "detach") else x
