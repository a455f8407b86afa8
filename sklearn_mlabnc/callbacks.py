"""skorch callbacks that watch multi-label neural collapse during training."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from skorch.callbacks import Callback

from .collapse import CollapseStatistics, collapse_report

__all__ = ["CollapseMonitor"]


class CollapseMonitor(Callback):
    """Record the MLab NC metrics of the training (and validation) features every k epochs.

    At the end of the first epoch, of every ``every``-th epoch and of the last one the
    network runs in
    evaluation mode over the data set, streaming each batch's features into a
    :class:`~sklearn_mlabnc.collapse.CollapseStatistics` on the device, so memory stays
    ``O(label sets * d + d^2)``. The report's metrics go into the net's history as
    ``<prefix>_nc1``, ``<prefix>_nc2_means``, ``<prefix>_nc2_classifier``, ``<prefix>_nc3``,
    ``<prefix>_nc_m_<m>``, ``<prefix>_c_m_<m>`` (prefix ``train`` or ``valid``); epochs in
    between have no such keys. NC4 and soft IoU are left out (they need a decision rule and
    per-sample outputs); compute them once after training with
    :func:`~sklearn_mlabnc.collapse.collapse_report`.

    The module must return ``(logits, features)`` (as :class:`~sklearn_mlabnc.MLabNCNetwork`
    does) and have a ``head`` whose ``weight`` and ``bias`` are the classifier :math:`W, b`.

    Parameters
    ----------
    every : int, default=10
        Compute the metrics every this many epochs (and after the first and last epochs).
    on : sequence of {"train", "valid"}, default=("train",)
        Which data sets to measure.
    n_labels : int, optional
        Number of label columns; further target/logit columns (such as the background
        output of :class:`~sklearn_mlabnc.MLabNCClassifier`) are left out. ``None`` uses all.
    **report_options
        Conventions forwarded to :func:`~sklearn_mlabnc.collapse.collapse_report` (e.g.
        ``classes="label_sets"``, ``global_mean="paper"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc.callbacks import CollapseMonitor
    >>> rng = np.random.default_rng(0)
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 10)
    >>> X = Y @ rng.normal(size=(3, 5))
    >>> clf = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=5, collapse_every=2)
    >>> [row["epoch"] for row in clf.fit(X, Y).history_ if "train_nc1" in row]
    [1, 2, 4, 5]
    """

    def __init__(
        self,
        every: int = 10,
        on: Sequence[str] = ("train",),
        n_labels: int | None = None,
        **report_options,
    ) -> None:
        self.every = every
        self.on = on
        self.n_labels = n_labels
        self.report_options = report_options

    def initialize(self):
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"every must be a positive integer; got {self.every!r}.")
        unknown = set(self.on) - {"train", "valid"}
        if unknown:
            raise ValueError(f"on may contain 'train' and 'valid' only; got {sorted(unknown)}.")
        return self

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        epoch = len(net.history)
        if epoch % self.every and epoch not in (1, net.max_epochs):
            return
        datasets = {"train": dataset_train, "valid": dataset_valid}
        for prefix in self.on:
            if datasets[prefix] is None:
                continue
            report = self.report(net, datasets[prefix])
            for key, value in report.to_dict().items():
                if isinstance(value, float) and not key.startswith(("n_", "bias")):
                    net.history.record(self._history_key(prefix, key), value)

    def _history_key(self, prefix: str, key: str) -> str:
        """The history column of metric ``key`` on the ``prefix`` data (subclasses rename)."""
        return f"{prefix}_{key}"

    def report(self, net, dataset):
        """The :class:`~sklearn_mlabnc.collapse.CollapseReport` of ``dataset``'s features.

        Called at the end of the recorded epochs; the network is run in evaluation mode over
        ``net.get_iterator(dataset, training=False)`` (whatever dataset that iterator takes:
        the estimator's device-resident batches when the monitor runs inside
        :class:`~sklearn_mlabnc.MLabNCClassifier`) and restored to its mode afterwards.

        Parameters
        ----------
        net : skorch.NeuralNet
            An initialised net whose module returns ``(logits, features)`` and has a
            ``head`` with ``weight`` (and optionally ``bias``).
        dataset : object
            A dataset the net's validation iterator accepts, yielding ``(X, Y)`` batches.

        Returns
        -------
        report : CollapseReport
            The metrics of the features, with the head's ``W`` and ``b``.
        """
        parallel = getattr(net, "parallel_", None)  # set while training data-parallel
        module = net.module_ if parallel is None else parallel.unwrap(net.module_)
        n_labels = self.n_labels
        stats = CollapseStatistics()
        was_training = module.training
        module.eval()
        with torch.inference_mode():
            for Xi, yi in net.get_iterator(dataset, training=False):
                _, features = net.infer(Xi)
                Y = torch.as_tensor(yi, device=features.device)
                stats.partial_fit(features, Y[:, :n_labels] if n_labels else Y)
        module.train(was_training)
        if parallel is not None:  # each process saw its own block of the data set
            stats = parallel.merge_statistics(stats)
        head = module.head
        K = stats.n_labels_
        W = head.weight.detach()[:K]
        b = None if getattr(head, "bias", None) is None else head.bias.detach()[:K]
        return collapse_report(stats, W=W, b=b, **self.report_options)
