"""Penultimate features of a fitted network as a scikit-learn transformer.

:class:`CollapseFeatures` turns a network into a feature extractor (its penultimate
features), so that any scikit-learn model can be trained on top of them in a
:class:`~sklearn.pipeline.Pipeline`.
"""

from __future__ import annotations

import numbers
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
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from ._classifier import MLabNCClassifier

__all__ = ["CollapseFeatures"]


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
    sklearn_mlabnc.collapse.NeuralCollapseAnalyzer : collapse metrics and collapse
        coordinates of features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc import CollapseFeatures
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
        >>> from sklearn_mlabnc import CollapseFeatures
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
        >>> from sklearn_mlabnc import CollapseFeatures
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
        >>> from sklearn_mlabnc import CollapseFeatures
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
