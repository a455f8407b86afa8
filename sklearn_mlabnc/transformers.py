"""Scikit-learn transformers around the neural-collapse geometry.

:class:`CollapseFeatures` turns a network into a feature extractor (its penultimate
features), so that any scikit-learn model can be trained on top of them in a
:class:`~sklearn.pipeline.Pipeline`. :class:`NeuralCollapseAnalyzer` measures the
multi-label neural-collapse (MLab NC) geometry of given features and expresses each sample
in that geometry.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import NotFittedError
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from ._classifier import MLabNCClassifier
from .collapse import CollapseReport, CollapseStatistics, nc1, nc4, soft_iou

__all__ = ["CollapseFeatures", "NeuralCollapseAnalyzer"]


def _default_estimator() -> MLabNCClassifier:
    return MLabNCClassifier()


class CollapseFeatures(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Penultimate features of a network as a scikit-learn transformer.

    A meta-transformer: :meth:`fit` fits a clone of ``estimator`` on ``(X, y)`` (or, with
    ``prefit=True``, uses the already fitted ``estimator`` as is) and :meth:`transform`
    returns ``estimator_.transform(X)``, the features the network's classifier head sees.
    Any scikit-learn model can then be trained on these features in a
    :class:`~sklearn.pipeline.Pipeline`, e.g. to compare the network's own head with a
    one-vs-rest logistic regression or a nearest-neighbour rule on collapsed features.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``transform``, default=None
        The feature extractor, typically a :class:`~sklearn_mlabnc.MLabNCClassifier`
        (``None`` means ``MLabNCClassifier()`` with its default parameters).
    prefit : bool, default=False
        Whether ``estimator`` is already fitted. If ``True``, :meth:`fit` does not train
        it (``y`` is then ignored) and ``estimator_`` is ``estimator`` itself, not a copy;
        :meth:`transform` may also be called without :meth:`fit`. Because
        :func:`~sklearn.base.clone` unfits a prefit estimator, use
        ``CollapseFeatures(FrozenEstimator(fitted))`` (from :mod:`sklearn.frozen`) inside
        cross-validation or grid searches instead.

    Attributes
    ----------
    estimator_ : estimator
        The fitted feature extractor.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input feature names, when ``X`` is a DataFrame with string column names.
    n_features_out_ : int
        Dimension ``d`` of the returned features.

    See Also
    --------
    sklearn.feature_selection.SelectFromModel : the analogous meta-transformer for feature
        selection, with the same ``prefit`` convention.
    NeuralCollapseAnalyzer : collapse metrics and collapse coordinates of features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc.transformers import CollapseFeatures
    >>> rng = np.random.default_rng(0)
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 10)
    >>> X = Y @ rng.normal(size=(3, 5)) + 0.1 * rng.normal(size=(40, 5))
    >>> net = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(CollapseFeatures(net), KNeighborsClassifier(3)).fit(X, Y)
    >>> pipe.predict(X[:2]).shape
    (2, 3)
    >>> features = pipe[0]
    >>> features.transform(X).shape
    (40, 16)
    >>> features.get_feature_names_out()[:2]
    array(['collapsefeatures0', 'collapsefeatures1'], dtype=object)
    """

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "transform"])],
        "prefit": ["boolean"],
    }

    def __init__(self, estimator: Any = None, *, prefit: bool = False) -> None:
        self.estimator = estimator
        self.prefit = prefit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> CollapseFeatures:
        """Fit a clone of ``estimator`` on ``(X, y)``, or adopt a prefit one.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs (passed to the wrapped estimator unchanged).
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Targets for the wrapped estimator (ignored when ``prefit=True``).
        **fit_params : dict
            Passed to ``estimator.fit`` (ignored when ``prefit=True``).

        Returns
        -------
        self : CollapseFeatures
            The fitted transformer.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> from sklearn_mlabnc.transformers import CollapseFeatures
        >>> X = np.random.default_rng(0).normal(size=(20, 4))
        >>> Y = (X[:, :2] > 0).astype(int)
        >>> net = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
        >>> CollapseFeatures(net).fit(X, Y).n_features_out_
        8
        """
        if self.prefit:
            estimator = self._check_prefit()
        else:
            base = _default_estimator() if self.estimator is None else self.estimator
            estimator = clone(base).fit(X, y, **fit_params)
        validate_data(self, X, skip_check_array=True, reset=True)
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_
        self.estimator_ = estimator
        self.n_features_out_ = _output_width(estimator, X)
        return self

    def _check_prefit(self) -> Any:
        if self.estimator is None:
            raise ValueError("prefit=True needs a fitted estimator; got estimator=None.")
        try:
            check_is_fitted(self.estimator)
        except NotFittedError as exc:
            raise NotFittedError(
                "When prefit=True, the estimator must already be fitted; call its fit "
                "first, or use prefit=False to fit a clone of it."
            ) from exc
        return self.estimator

    def _fitted_estimator(self) -> Any:
        if hasattr(self, "estimator_"):
            return self.estimator_
        if self.prefit:
            return self._check_prefit()
        check_is_fitted(self, "estimator_")
        return None  # pragma: no cover - check_is_fitted raised

    def __sklearn_is_fitted__(self) -> bool:
        if hasattr(self, "estimator_"):
            return True
        if not self.prefit or self.estimator is None:
            return False
        try:
            check_is_fitted(self.estimator)
        except NotFittedError:
            return False
        return True

    def transform(self, X: Any) -> np.ndarray:
        """Penultimate features ``estimator_.transform(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        features : ndarray of shape (n_samples, d)
            The features, ``d = n_features_out_`` of them.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> from sklearn_mlabnc.transformers import CollapseFeatures
        >>> X = np.random.default_rng(0).normal(size=(20, 4))
        >>> Y = (X[:, :2] > 0).astype(int)
        >>> net = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
        >>> net.fit(X, Y)
        MLabNCClassifier(...)
        >>> features = CollapseFeatures(net, prefit=True).transform(X)
        >>> bool(np.allclose(features, net.transform(X)))
        True
        """
        estimator = self._fitted_estimator()
        features = estimator.transform(X)  # the estimator validates X itself
        if sp.issparse(features):
            return features
        return np.asarray(features)

    @property
    def _n_features_out(self) -> int:
        if hasattr(self, "n_features_out_"):
            return self.n_features_out_
        return _output_width(self._fitted_estimator(), None)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names ``collapsefeatures0`` ... ``collapsefeatures{d-1}``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input feature names seen in :meth:`fit`.

        Returns
        -------
        names : ndarray of str objects
            The output feature names.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> from sklearn_mlabnc.transformers import CollapseFeatures
        >>> X = np.random.default_rng(0).normal(size=(20, 4))
        >>> net = MLabNCClassifier(hidden_layer_sizes=(3,), max_epochs=2, random_state=0)
        >>> CollapseFeatures(net).fit(X, X[:, :2] > 0).get_feature_names_out()
        array(['collapsefeatures0', 'collapsefeatures1', 'collapsefeatures2'], dtype=object)
        """
        check_is_fitted(self)
        if hasattr(self, "n_features_in_"):
            _check_feature_names_in(self, input_features, generate_names=False)
        return super().get_feature_names_out()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = _default_estimator() if self.estimator is None else self.estimator
        inner_tags = get_tags(inner)
        tags.input_tags.sparse = inner_tags.input_tags.sparse
        tags.input_tags.allow_nan = inner_tags.input_tags.allow_nan
        tags.target_tags.required = not self.prefit and inner_tags.target_tags.required
        tags.non_deterministic = inner_tags.non_deterministic
        return tags


def _output_width(estimator: Any, X: Any) -> int:
    """Width of ``estimator.transform``'s output, without a full transform when possible."""
    width = getattr(estimator, "_n_features_out", None)
    if isinstance(width, numbers.Integral):
        return int(width)
    if hasattr(estimator, "get_feature_names_out"):
        try:
            return len(estimator.get_feature_names_out())
        except Exception:
            pass
    if X is None:
        raise AttributeError(
            f"Cannot tell the output width of {type(estimator).__name__}; call fit first."
        )
    return int(np.shape(estimator.transform(_safe_indexing(X, slice(0, 1))))[1])


# ----------------------------------------------------------------------------- analyzer
def _label_indicator(Y: Any) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """0/1 indicator, label names and (for 1-D targets) the classes."""
    columns = getattr(Y, "columns", None)
    if sp.issparse(Y):
        ind = sp.csr_array(Y)
        return ind, np.array([f"label{k}" for k in range(ind.shape[1])], dtype=object), None
    arr = np.asarray(Y)
    if arr.ndim == 1:
        classes = np.unique(arr)
        ind = (arr[:, None] == classes[None, :]).astype(np.int8)
        return ind, np.array([str(c) for c in classes], dtype=object), classes
    if arr.ndim != 2:
        raise ValueError(
            f"Y must be a 1-D array of classes or a 2-D label indicator; got shape {arr.shape}."
        )
    if columns is not None:
        names = np.array([str(c) for c in columns], dtype=object)
    else:
        names = np.array([f"label{k}" for k in range(arr.shape[1])], dtype=object)
    return arr, names, None


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
    be tuned for collapse with :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    classes : {'singletons', 'label_sets'}, default='singletons'
        NC1 classes: the ``K`` singleton label sets (paper), or every distinct label set.
    inverse : {'pinv', 'svd'}, default='pinv'
        Inverse of the between-class covariance in NC1 (see
        :func:`~sklearn_mlabnc.collapse.nc1`).
    global_mean : {'weighted', 'class_means', 'paper'}, default='weighted'
        Global mean ``mu_G``, computed over the singleton label sets: their
        sample-weighted mean, the unweighted mean of the singleton means, or the paper
        code's quirk (their feature sum divided by the number of all samples). Used by
        the report and by :meth:`transform`.
    centered : bool, default=True
        Centre the singleton means in NC2 (``False`` reproduces the paper's code).
    tagwise_centered : bool, default=False
        Centre the means in the tag-wise average NC_m (the paper does not).
    max_subsets : int, default=2000
        Cap on the reference label subsets per multiplicity in NC_m.
    random_state : int, default=0
        Seed of the reference subsets when capped.
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
    CollapseFeatures : penultimate features of a network, to feed this analyzer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.transformers import NeuralCollapseAnalyzer
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
        "classes": [StrOptions({"singletons", "label_sets"})],
        "inverse": [StrOptions({"pinv", "svd"})],
        "global_mean": [StrOptions({"weighted", "class_means", "paper"})],
        "centered": ["boolean"],
        "tagwise_centered": ["boolean"],
        "max_subsets": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left")],
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
        self.W = W
        self.b = b

    def _report_options(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "inverse": self.inverse,
            "global_mean": self.global_mean,
            "centered": self.centered,
            "tagwise_centered": self.tagwise_centered,
            "max_subsets": int(self.max_subsets),
            "random_state": int(self.random_state),
        }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Any, y: Any, *, predictions: Any = None, logits: Any = None
    ) -> NeuralCollapseAnalyzer:
        """Compute the collapse statistics, report and geometry of features and labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, d)
            Features ``H`` (e.g. :meth:`CollapseFeatures.transform` output).
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
        >>> from sklearn_mlabnc.transformers import NeuralCollapseAnalyzer
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
        indicator, labels, classes = _label_indicator(y)
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
        report = stats.report(W=W, b=b, **self._report_options())
        updates: dict[str, float] = {}
        if logits is None and W is not None:
            logits = H @ W.T + (0.0 if b is None else b)
        if logits is not None:
            updates["soft_iou"] = soft_iou(logits, indicator)
        if predictions is not None:
            predictions = _predictions_indicator(predictions, classes)
            updates["nc4"] = nc4(stats, predictions=predictions, H=H)
        self.statistics_: CollapseStatistics = stats
        self.report_: CollapseReport = replace(report, **updates) if updates else report
        self.labels_ = labels
        self.n_labels_ = int(indicator.shape[1])
        self.singleton_means_, self.global_mean_ = self._geometry(stats)
        return self

    def _geometry(self, stats: CollapseStatistics) -> tuple[np.ndarray, np.ndarray]:
        K, d = stats.n_labels_, stats.n_features_in_
        sets, counts, means = stats.label_sets_, stats.counts_, stats.means_
        single = np.flatnonzero(stats.multiplicities_ == 1)
        label_of = np.argmax(sets[single], axis=1)
        singleton_means = np.full((K, d), np.nan)
        singleton_means[label_of] = means[single]
        seen = np.zeros(K, dtype=bool)
        seen[label_of] = True
        if not seen.all():
            missing = [str(x) for x in self.labels_[~seen][:10]]
            warnings.warn(
                f"Label(s) {missing} were never observed alone (no sample with that "
                "singleton label set): their singleton means, and their columns in "
                "transform, are NaN.",
                UserWarning,
                stacklevel=3,
            )
        if single.size == 0:
            return singleton_means, np.full(d, np.nan)
        n_c = counts[single].astype(np.float64)
        if self.global_mean == "weighted":
            mu_g = (n_c @ means[single]) / n_c.sum()
        elif self.global_mean == "class_means":
            mu_g = means[single].mean(axis=0)
        else:  # 'paper': sum of the multiplicity-1 features over the count of all samples
            mu_g = (n_c @ means[single]) / stats.n_samples_
        return singleton_means, mu_g

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
        >>> from sklearn_mlabnc.transformers import NeuralCollapseAnalyzer
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
        >>> from sklearn_mlabnc.transformers import NeuralCollapseAnalyzer
        >>> H = np.array([[1.0], [3.0], [5.0], [7.0]])
        >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
        >>> NeuralCollapseAnalyzer().fit(H, Y).score(H, Y)
        -0.125
        """
        check_is_fitted(self, "report_")
        H = validate_data(self, X, dtype=np.float64, reset=False)
        indicator, _, _ = _label_indicator(y)
        if hasattr(self, "classes_") and np.ndim(y) == 1:
            arr = np.asarray(y)
            indicator = (arr[:, None] == self.classes_[None, :]).astype(np.int8)
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
        >>> from sklearn_mlabnc.transformers import NeuralCollapseAnalyzer
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


def _predictions_indicator(predictions: Any, classes: np.ndarray | None) -> Any:
    if sp.issparse(predictions):
        return predictions
    arr = np.asarray(predictions)
    if arr.ndim == 1 and classes is not None:
        return (arr[:, None] == classes[None, :]).astype(np.int8)
    return arr
