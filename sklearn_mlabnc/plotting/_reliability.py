"""Multi-label reliability diagram: predicted probability against observed frequency.

Follows scikit-learn's ``Display`` convention (as
:class:`sklearn.calibration.CalibrationDisplay`): build it with :meth:`from_estimator` or
:meth:`from_predictions`, which compute and draw, or construct it from computed curves and
call :meth:`plot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import cycle_colors, new_axes

__all__ = ["MultilabelReliabilityDisplay"]


def _curve(y: np.ndarray, p: np.ndarray, n_bins: int) -> tuple[np.ndarray, ...]:
    """Mean probability, frequency of positives and size of each non-empty uniform bin."""
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    seen = count > 0
    mean_p = np.bincount(bins, weights=p, minlength=n_bins)[seen] / count[seen]
    freq = np.bincount(bins, weights=y, minlength=n_bins)[seen] / count[seen]
    return freq, mean_p, count[seen]


def _gap(curve: tuple[np.ndarray, ...]) -> float:
    """Expected calibration error of one curve: bin-size-weighted |frequency - mean p|."""
    freq, mean_p, count = curve
    return float(np.sum(count * np.abs(freq - mean_p)) / max(count.sum(), 1))


class MultilabelReliabilityDisplay:
    """Reliability diagram of per-label probabilities: pooled over labels, plus some labels.

    Every (sample, label) entry is put in a uniform probability bin; each point is a bin's
    mean predicted probability (x) against the fraction of its entries that are positive (y).
    On the diagonal, a probability of 0.3 comes true 30 % of the time. The pooled curve
    uses all entries; thin curves show chosen labels (by default the ``n_worst`` labels with
    the largest expected calibration error).

    Parameters
    ----------
    pooled : tuple of ndarray
        ``(prob_true, prob_pred, counts)`` of the pooled curve.
    per_label : dict of int to tuple of ndarray
        The same for each shown label.
    label_names : sequence of str
        Names of all labels (the keys of ``per_label`` index it).
    ece : float
        Expected calibration error of the pooled curve.
    estimator_name : str, default=None
        Shown in the legend.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        Its figure.
    lines_ : dict of str to matplotlib Line2D
        ``"pooled"`` and each shown label's name.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.plotting import MultilabelReliabilityDisplay
    >>> rng = np.random.default_rng(0)
    >>> P = rng.random((500, 4))
    >>> Y = (rng.random((500, 4)) < P).astype(int)  # calibrated by construction
    >>> display = MultilabelReliabilityDisplay.from_predictions(Y, P, n_worst=2)
    >>> sorted(display.lines_), round(display.ece, 2)
    (['0', '2', 'pooled'], 0.03)
    """

    def __init__(
        self,
        pooled: tuple,
        per_label: dict,
        label_names: Sequence[str],
        ece: float,
        estimator_name: str | None = None,
    ) -> None:
        self.pooled = pooled
        self.per_label = per_label
        self.label_names = label_names
        self.ece = ece
        self.estimator_name = estimator_name

    def plot(self, ax: Any = None, *, name: str | None = None, ref_line: bool = True):
        """Draw the diagram on ``ax`` (a new figure when None); return ``self``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on.
        name : str, default=None
            Legend name of the pooled curve; ``estimator_name`` when None.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.

        Returns
        -------
        display : MultilabelReliabilityDisplay
            With ``ax_``, ``figure_`` and ``lines_`` set.
        """
        if ax is None:
            (ax,) = new_axes(1, 1, (4.5, 4.0))
        name = name or self.estimator_name or "pooled"
        if ref_line:
            ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="perfectly calibrated")
        prob_true, prob_pred, _ = self.pooled
        self.lines_ = {}
        (self.lines_["pooled"],) = ax.plot(
            prob_pred,
            prob_true,
            "o-",
            color="black",
            lw=2,
            label=f"{name}, all labels (ECE {self.ece:.3f})",
        )
        colors = cycle_colors()
        for i, (k, (freq, mean_p, _)) in enumerate(self.per_label.items()):
            label = str(self.label_names[k])
            (self.lines_[label],) = ax.plot(
                mean_p, freq, ".-", lw=1, color=colors[i % len(colors)], label=f"label {label}"
            )
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="mean predicted probability",
            ylabel="fraction of positives",
        )
        ax.legend(loc="upper left", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_prob,
        *,
        n_bins: int = 10,
        labels: Sequence[int] | None = None,
        n_worst: int = 3,
        label_names: Sequence[str] | None = None,
        name: str | None = None,
        ref_line: bool = True,
        ax: Any = None,
    ) -> MultilabelReliabilityDisplay:
        """Compute and draw the diagram of probabilities ``y_prob`` against ``y_true``.

        Parameters
        ----------
        y_true : array-like of shape (n_samples, n_labels)
            0/1 label indicator.
        y_prob : array-like of shape (n_samples, n_labels)
            Probability of each label.
        n_bins : int, default=10
            Uniform bins on [0, 1].
        labels : sequence of int, default=None
            Label columns to draw on their own; None: the ``n_worst`` labels with the
            largest expected calibration error (labels without a positive excluded).
        n_worst : int, default=3
            How many labels to draw when ``labels`` is None (0 for the pooled curve only).
        label_names : sequence of str, default=None
            Names of the labels (their column numbers when None).
        name : str, default=None
            Legend name.
        ref_line : bool, default=True
            Draw the diagonal.
        ax : matplotlib Axes, default=None
            Axes to draw on.

        Returns
        -------
        display : MultilabelReliabilityDisplay
        """
        Y = np.asarray(y_true.toarray() if hasattr(y_true, "toarray") else y_true, float)
        P = np.asarray(y_prob, dtype=np.float64)
        if Y.ndim != 2 or Y.shape != P.shape:
            raise ValueError(
                f"y_true and y_prob must be (n_samples, n_labels) arrays of one shape; got "
                f"{Y.shape} and {P.shape}."
            )
        if n_bins < 1 or not ((P >= 0) & (P <= 1)).all():
            raise ValueError("Need n_bins >= 1 and probabilities in [0, 1] (predict_proba).")
        names = [str(k) for k in range(Y.shape[1])] if label_names is None else label_names
        pooled = _curve(Y.ravel(), P.ravel(), n_bins)
        curves = {k: _curve(Y[:, k], P[:, k], n_bins) for k in range(Y.shape[1])}
        if labels is None:
            candidates = [k for k in curves if Y[:, k].any()]
            labels = sorted(candidates, key=lambda k: -_gap(curves[k]))[:n_worst]
        shown = {int(k): curves[int(k)] for k in sorted(labels)}
        display = cls(pooled, shown, names, _gap(pooled), estimator_name=name)
        return display.plot(ax=ax, ref_line=ref_line)

    @classmethod
    def from_estimator(
        cls, estimator, X, y, *, name: str | None = None, **kwargs: Any
    ) -> MultilabelReliabilityDisplay:
        """Compute and draw the diagram of ``estimator.predict_proba(X)`` against ``y``.

        Parameters
        ----------
        estimator : fitted multi-label classifier
            Its ``predict_proba`` gives an ``(n_samples, n_labels)`` array of per-label
            probabilities (e.g. :class:`~sklearn_mlabnc.MLabNCClassifier`), or one
            ``(n_samples, 2)`` array per label (scikit-learn's multi-output classifiers,
            read with ``classes_``).
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples, n_labels)
            0/1 label indicator.
        name : str, default=None
            Legend name; the estimator's class name when None.
        **kwargs
            Passed to :meth:`from_predictions`.

        Returns
        -------
        display : MultilabelReliabilityDisplay

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> from sklearn_mlabnc.plotting import MultilabelReliabilityDisplay
        >>> X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
        >>> knn = KNeighborsClassifier().fit(X[:150], Y[:150])
        >>> display = MultilabelReliabilityDisplay.from_estimator(knn, X[150:], Y[150:])
        >>> display.ax_.get_xlabel(), display.lines_["pooled"].get_label()[:30]
        ('mean predicted probability', 'KNeighborsClassifier, all labe')
        """
        y_prob = estimator.predict_proba(X)
        if isinstance(y_prob, list):  # one (n, n_classes) array per label
            y_prob = np.stack(
                [
                    p[:, list(c).index(1)] if 1 in c else np.zeros(len(p))
                    for p, c in zip(y_prob, estimator.classes_, strict=True)
                ],
                axis=1,
            )
        name = name or type(estimator).__name__
        return cls.from_predictions(y, y_prob, name=name, **kwargs)
