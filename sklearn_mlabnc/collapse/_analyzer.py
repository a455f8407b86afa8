"""The NeuralCollapseAnalyzer transformer: collapse metrics and per-sample collapse coordinates.

:class:`NeuralCollapseAnalyzer` measures the multi-label neural-collapse (MLab NC)
geometry of given features and expresses each sample in that geometry, as a scikit-learn
transformer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ._docstrings import REPORT_OPTIONS_DOC, Substitution
from ._labels import as_indicator
from ._metrics import nc1, nc4
from ._outputs import linear_logits, soft_iou
from ._report import OPTION_CONSTRAINTS, CollapseReport, ReportOptions, report_from_summary
from ._statistics import CollapseStatistics
from ._summary import CollapseSummary, global_mean_of, singleton_index

__all__ = ["NeuralCollapseAnalyzer"]


def _label_names(Y: Any, indicator: Any, classes: np.ndarray | None) -> np.ndarray:
    """Label names: a DataFrame's columns, the classes of 1-D labels, else label0, ..."""
    if classes is not None:
        return np.array([str(c) for c in classes], dtype=object)
    columns = getattr(Y, "columns", None)
    if columns is not None and not sp.issparse(Y):
        return np.array([str(c) for c in columns], dtype=object)
    return np.array([f"label{k}" for k in range(indicator.shape[1])], dtype=object)


@Substitution(report_options=REPORT_OPTIONS_DOC)
class NeuralCollapseAnalyzer(TransformerMixin, BaseEstimator):
    """Measure the MLab NC geometry of features, and give each sample's place in it.

    :meth:`fit` accumulates the collapse statistics of features ``H`` grouped by the label
    sets of ``Y`` (:class:`~sklearn_mlabnc.collapse.CollapseStatistics`) and computes the
    full :class:`~sklearn_mlabnc.collapse.CollapseReport` (NC1, NC2, NC3 when ``W`` is
    given, the tag-wise average NC_m and scales ``c_m``, ...; see
    :func:`~sklearn_mlabnc.collapse.collapse_report` for the conventions).
    :meth:`transform` returns, for every sample and label ``k``, the cosine similarity
    between ``h - mu_G`` and the centred singleton mean ``mu_k - mu_G``: at collapse a
    sample of label set ``{k}`` has cosine 1 with its own label and ``-1/(K-1)`` with the
    others, and a sample of label set ``S`` is equally close to every label of ``S``.
    :meth:`score` is ``-NC1`` (greater is better), so pipelines ending in this analyzer can
    be tuned for collapse with :class:`~sklearn.model_selection.GridSearchCV`. The global
    mean ``mu_G`` of :meth:`transform` follows the ``global_mean`` convention, computed
    over the singleton label sets.

    Parameters
    ----------
    {report_options}
    W : array-like of shape (n_labels, d), default=None
        Classifier weights, for NC2 of the classifier, NC3 and the soft IoU.
    b : array-like of shape (n_labels,), default=None
        Classifier bias, for the soft IoU and the bias deviation.

    Attributes
    ----------
    statistics_ : CollapseStatistics
        The accumulated statistics of the training features.
    report_ : CollapseReport
        The collapse metrics of the training features (``nc4`` only when ``predictions``
        were passed to :meth:`fit`; ``soft_iou`` when ``logits`` or ``W`` were given).
    singleton_means_ : ndarray of shape (n_labels, d)
        Mean feature of the samples of each singleton label set (NaN row for a label never
        observed alone).
    global_mean_ : ndarray of shape (d,)
        The global mean ``mu_G`` used for centring.
    labels_ : ndarray of str objects of shape (n_labels,)
        Label names: the columns of a DataFrame ``Y``, the classes of a 1-D ``Y``, else
        ``label0``, ``label1``, ...
    classes_ : ndarray of shape (n_labels,)
        The classes, when ``Y`` was 1-D (absent otherwise).
    n_labels_ : int
        Number of labels ``K``.
    n_features_in_ : int
        Feature dimension ``d``.
    feature_names_in_ : ndarray of str
        Names of the features, when ``H`` is a DataFrame with string column names.

    See Also
    --------
    sklearn_mlabnc.collapse.collapse_report : the same metrics as a function.
    sklearn_mlabnc.CollapseFeatures : penultimate features of a network, to feed this analyzer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.collapse import NeuralCollapseAnalyzer
    >>> U = np.eye(3) - 1 / 3  # simplex ETF directions
    >>> Y = np.repeat([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], 2, axis=0)
    >>> H = Y @ U / Y.sum(1, keepdims=True)  # pairs at the average of their labels
    >>> nca = NeuralCollapseAnalyzer().fit(H, Y)
    >>> round(nca.report_.nc2_means, 6)
    0.0
    >>> nca.transform(H[:1]).round(3)
    array([[ 1. , -0.5, -0.5]])
    >>> nca.get_feature_names_out()
    array(['cos_label0', 'cos_label1', 'cos_label2'], dtype=object)
    """

    _parameter_constraints: dict = {
        **OPTION_CONSTRAINTS,
        "W": [None, "array-like"],
        "b": [None, "array-like"],
    }

    def __init__(
        self,
        *,
        classes: str = "singletons",
        inverse: str = "pinv",
        global_mean: str = "weighted",
        centered: bool = True,
        tagwise_centered: bool = False,
        max_subsets: int = 2000,
        random_state: int = 0,
        bias_metric: str = "logit_scale",
        W: Any = None,
        b: Any = None,
    ) -> None:
        self.classes = classes
        self.inverse = inverse
        self.global_mean = global_mean
        self.centered = centered
        self.tagwise_centered = tagwise_centered
        self.max_subsets = max_subsets
        self.random_state = random_state
        self.bias_metric = bias_metric
        self.W = W
        self.b = b

    def _report_options(self) -> ReportOptions:
        return ReportOptions(
            classes=self.classes,
            inverse=self.inverse,
            global_mean=self.global_mean,
            centered=self.centered,
            tagwise_centered=self.tagwise_centered,
            max_subsets=int(self.max_subsets),
            random_state=int(self.random_state),
            bias_metric=self.bias_metric,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Any, y: Any, *, predictions: Any = None, logits: Any = None
    ) -> NeuralCollapseAnalyzer:
        """Compute the collapse statistics, report and geometry of features and labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, d)
            Features ``H`` (e.g. the output of
            :meth:`CollapseFeatures.transform <sklearn_mlabnc.CollapseFeatures.transform>`).
        y : array-like, sparse matrix or DataFrame of shape (n_samples, n_labels) or \
(n_samples,)
            Labels ``Y``: a 0/1 indicator, or 1-D classes (one-hot encoded in sorted
            order).
        predictions : array-like of shape (n_samples, n_labels), default=None
            A classifier's predicted label sets, for NC4 in ``report_``.
        logits : array-like of shape (n_samples, n_labels), default=None
            Logits for the soft IoU in ``report_`` (default ``H W^T + b`` when ``W`` is
            given).

        Returns
        -------
        self : NeuralCollapseAnalyzer
            The fitted analyzer.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.collapse import NeuralCollapseAnalyzer
        >>> H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 1.2]])
        >>> nca = NeuralCollapseAnalyzer().fit(H, ["a", "a", "b", "b"])
        >>> nca.labels_, nca.singleton_means_
        (array(['a', 'b'], dtype=object), array([[1.1, 0. ],
               [0. , 1.1]]))
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(y: the labels Y of the features)."
            )
        H = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        indicator, classes = as_indicator(y)
        labels = _label_names(y, indicator, classes)
        if indicator.shape[0] != H.shape[0]:
            raise ValueError(
                f"X has {H.shape[0]} samples but y has {indicator.shape[0]}; they must match."
            )
        if classes is not None:
            self.classes_ = classes
        elif hasattr(self, "classes_"):
            del self.classes_
        stats = CollapseStatistics().partial_fit(H, indicator)
        W = None if self.W is None else np.asarray(self.W, dtype=np.float64)
        b = None if self.b is None else np.asarray(self.b, dtype=np.float64)
        summary = stats.summary()
        report = report_from_summary(summary, W=W, b=b, options=self._report_options())
        updates: dict[str, float] = {}
        if logits is None and W is not None:
            logits = linear_logits(H, W, b)
        if logits is not None:
            updates["soft_iou"] = soft_iou(logits, indicator)
        if predictions is not None:
            if classes is not None and not sp.issparse(predictions):
                if np.ndim(predictions) == 1:  # predicted classes of 1-D targets
                    predictions = as_indicator(predictions, classes=classes)[0]
            updates["nc4"] = nc4(stats, predictions=predictions, H=H)
        self.statistics_: CollapseStatistics = stats
        self.report_: CollapseReport = replace(report, **updates) if updates else report
        self.labels_ = labels
        self.n_labels_ = int(indicator.shape[1])
        self.singleton_means_, self.global_mean_ = self._geometry(summary)
        return self

    def _geometry(self, s: CollapseSummary) -> tuple[np.ndarray, np.ndarray]:
        idx = singleton_index(s)
        seen = idx >= 0
        singleton_means = np.full((s.n_labels, s.n_features), np.nan)
        singleton_means[seen] = s.means[idx[seen]]
        if not seen.all():
            missing = [str(x) for x in self.labels_[~seen][:10]]
            warnings.warn(
                f"Label(s) {missing} were never observed alone (no sample with that "
                "singleton label set): their singleton means, and their columns in "
                "transform, are NaN.",
                UserWarning,
                stacklevel=3,
            )
        if not seen.any():
            return singleton_means, np.full(s.n_features, np.nan)
        return singleton_means, s.shift + global_mean_of(s, idx[seen], self.global_mean)

    def transform(self, X: Any) -> np.ndarray:
        """Cosine of each centred feature with each centred singleton mean.

        ``out[i, k] = cos(h_i - mu_G, mu_k - mu_G)``. A sample equal to ``mu_G`` gets 0;
        a label never observed alone (or whose centred mean is zero) gets a NaN column.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, d)
            Features ``H``.

        Returns
        -------
        cosines : ndarray of shape (n_samples, n_labels)
            Collapse coordinates, in [-1, 1].

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.collapse import NeuralCollapseAnalyzer
        >>> H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 1.2]])
        >>> nca = NeuralCollapseAnalyzer().fit(H, [[1, 0], [1, 0], [0, 1], [0, 1]])
        >>> nca.transform([[1.1, 0.0], [0.55, 0.55]])  # label 0's mean, then the global mean
        array([[ 1., -1.],
               [ 0.,  0.]])
        """
        check_is_fitted(self, "report_")
        H = validate_data(self, X, dtype=np.float64, reset=False)
        D = H - self.global_mean_
        M = self.singleton_means_ - self.global_mean_
        m_norm = np.linalg.norm(M, axis=1)
        floor = (
            1e3
            * np.finfo(np.float64).eps
            * max(1.0, float(np.nanmax(np.abs(self.singleton_means_), initial=0.0)))
        )
        valid = np.isfinite(m_norm) & (m_norm > floor)
        out = np.full((H.shape[0], M.shape[0]), np.nan)
        if valid.any():
            d_norm = np.linalg.norm(D, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                cos = (D @ M[valid].T) / (d_norm[:, None] * m_norm[valid][None, :])
            cos[d_norm == 0] = 0.0
            out[:, valid] = np.clip(cos, -1.0, 1.0)
        return out

    def score(self, X: Any, y: Any) -> float:
        """Negative NC1 of features and labels with this analyzer's conventions.

        Greater is better, as scikit-learn's model selection expects.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, d)
            Features ``H``.
        y : array-like of shape (n_samples, n_labels) or (n_samples,)
            Labels ``Y``: 0/1 indicator or 1-D classes.

        Returns
        -------
        score : float
            ``-NC1`` (0 at perfect within-class collapse; NaN for degenerate data).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc.collapse import NeuralCollapseAnalyzer
        >>> H = np.array([[1.0], [3.0], [5.0], [7.0]])
        >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
        >>> NeuralCollapseAnalyzer().fit(H, Y).score(H, Y)
        -0.125
        """
        check_is_fitted(self, "report_")
        H = validate_data(self, X, dtype=np.float64, reset=False)
        indicator, _ = as_indicator(y, classes=getattr(self, "classes_", None))
        value = nc1(
            H,
            indicator,
            classes=self.classes,
            inverse=self.inverse,
            global_mean=self.global_mean,
        )
        return -float(value) if not math.isnan(value) else math.nan

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output names ``cos_<label>``, one per label.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input feature names seen in :meth:`fit`.

        Returns
        -------
        names : ndarray of str objects of shape (n_labels,)
            The output feature names.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from sklearn_mlabnc.collapse import NeuralCollapseAnalyzer
        >>> H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 1.2]])
        >>> Y = pd.DataFrame({"cat": [1, 1, 0, 0], "dog": [0, 0, 1, 1]})
        >>> NeuralCollapseAnalyzer().fit(H, Y).get_feature_names_out()
        array(['cos_cat', 'cos_dog'], dtype=object)
        """
        check_is_fitted(self, "report_")
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.array([f"cos_{label}" for label in self.labels_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
