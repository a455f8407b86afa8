"""Scikit-learn scorers for the multi-label neural-collapse (MLab NC) metrics.

A scorer is a callable ``scorer(estimator, X, Y) -> float`` following scikit-learn's
convention that greater is better: metrics that fall towards 0 at collapse (NC1, NC2, NC3,
the tag-wise average NC_m) are negated, and their ready-made scorers are named
``neg_...`` in :data:`COLLAPSE_SCORERS`; NC4 (an agreement rate) and the soft IoU are
returned as they are. Use them in :class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_validate`, alone or next to ordinary scorers::

    GridSearchCV(clf, grid, scoring={**COLLAPSE_SCORERS, "f1": "f1_micro"}, refit="f1")

Calibration scorers (:data:`CALIBRATION_SCORERS`: the negated per-label Brier score,
log-loss and expected calibration error of ``predict_proba``) work the same way for any
multi-label classifier with per-label probabilities; their metric functions are here too.

A scorer measures the collapse of the data it is given: the test folds in
cross-validation. The paper tracks collapse on the *training* features; pass
``return_train_score=True`` to get that too (keys ``train_<name>``).

What a scorer reads from the estimator:

- **features** ``H``: for a :class:`~sklearn.pipeline.Pipeline`, ``X`` is first passed
  through the steps ``[:-1]``; then the final step's ``transform`` (the penultimate
  features of an :class:`~sklearn_mlabnc.MLabNCClassifier`, or of the network inside a
  :class:`~sklearn_mlabnc.CollapseFeatures`). A final step without
  ``transform`` (e.g. a ``LogisticRegression`` on top of ``CollapseFeatures``) is taken
  as the classifier, and its input is the features.
- **classifier** ``W, b``: the final step's ``coef_`` and ``intercept_`` (needed by NC3,
  by NC2 of the classifier and, without ``decision_function``, by the soft IoU).
- **predictions**: the final step's ``predict`` (NC4).
- **logits**: ``H W^T + b``, else ``decision_function`` (soft IoU).

An :class:`~sklearn_mlabnc.MLabNCClassifier` gives all of them in one forward pass. A
metric that needs something the estimator does not have raises a ``ValueError`` saying
what is missing (a silent NaN would only surface as a puzzling model ranking).

``Y`` is a 0/1 label indicator, or 1-D classes that are one-hot encoded in the order of
the estimator's ``classes_`` (sorted classes when it has none).

Examples
--------
>>> import numpy as np
>>> from sklearn.model_selection import cross_validate
>>> from sklearn_mlabnc import MLabNCClassifier
>>> from sklearn_mlabnc.scorers import COLLAPSE_SCORERS
>>> rng = np.random.default_rng(0)
>>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 10)
>>> X = Y @ rng.normal(size=(3, 5)) + 0.1 * rng.normal(size=(40, 5))
>>> clf = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=2, random_state=0)
>>> scores = cross_validate(clf, X, Y, cv=2, scoring=COLLAPSE_SCORERS)
>>> sorted(k for k in scores if k.startswith("test_"))  # doctest: +NORMALIZE_WHITESPACE
['test_nc4', 'test_neg_nc1', 'test_neg_nc2', 'test_neg_nc3', 'test_neg_tagwise',
 'test_soft_iou']
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._calibration_scoring import (
    CALIBRATION_SCORERS,
    brier_scorer,
    ece_scorer,
    expected_calibration_error,
    log_loss_scorer,
    per_label_brier_score,
    per_label_log_loss,
)
from ._classifier import MLabNCClassifier
from ._decision import NetworkOutputs
from ._features import CollapseFeatures
from .collapse import nc1, nc2, nc3, nc4, soft_iou, tagwise_average
from .collapse._labels import as_indicator

__all__ = [
    "CALIBRATION_SCORERS",
    "COLLAPSE_SCORERS",
    "brier_scorer",
    "ece_scorer",
    "expected_calibration_error",
    "log_loss_scorer",
    "make_collapse_scorer",
    "nc1_scorer",
    "nc2_scorer",
    "nc3_scorer",
    "nc4_scorer",
    "per_label_brier_score",
    "per_label_log_loss",
    "soft_iou_scorer",
    "tagwise_scorer",
]


# ------------------------------------------------------------------ estimator outputs
class _Outputs:
    """What a scorer needs from a fitted estimator on ``X``, computed lazily."""

    def __init__(self, estimator: Any, X: Any) -> None:
        final = estimator
        while True:
            if isinstance(final, FrozenEstimator):
                final = final.estimator
            elif isinstance(final, Pipeline):
                if len(final) > 1:
                    X = final[:-1].transform(X)
                final = final[-1]
            elif isinstance(final, CollapseFeatures):
                check_is_fitted(final)  # a prefit extractor counts as fitted
                final = getattr(final, "estimator_", final.estimator)
            else:
                break
        if final is None or (isinstance(final, str) and final == "passthrough"):
            final = None
        self.final = final
        self.name = type(estimator).__name__
        self._X = X
        self._network: NetworkOutputs | None = None
        self._H: Any = None

    @property
    def is_network(self) -> bool:
        """An MLabNCClassifier: one forward pass gives logits, features and label sets."""
        return isinstance(self.final, MLabNCClassifier)

    def network(self) -> NetworkOutputs:
        if self._network is None:
            self._network = self.final.network_outputs(self._X)
        return self._network

    def classes(self) -> np.ndarray | None:
        """Classes ordering the one-hot encoding of a 1-D ``Y`` (None for multi-label)."""
        classes = _get_attr(self.final, "classes_")
        if classes is None or isinstance(classes, list):
            return None
        classes = np.asarray(classes)
        return classes if classes.ndim == 1 else None

    def features(self) -> Any:
        if self._H is not None:
            return self._H
        if self.is_network:
            self._H = self.network().features.double()
        elif self.final is not None and hasattr(self.final, "transform"):
            self._H = self.final.transform(self._X)
        else:
            self._H = self._X
        if not sp.issparse(self._H) and not hasattr(self._H, "detach"):
            self._H = np.asarray(self._H, dtype=np.float64)
        return self._H

    def weights(self, K: int, d: int, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        W = _get_attr(self.final, "coef_")
        if W is None:
            raise ValueError(
                f"The {metric!r} collapse metric needs the classifier weights, but "
                f"{self._describe()} has no coef_. Use a metric of the features only "
                "(nc1, nc2 with which='means', tagwise), or an estimator with coef_ "
                "(MLabNCClassifier, a linear model)."
            )
        W = np.asarray(W, dtype=np.float64)
        if W.shape != (K, d):
            raise ValueError(
                f"{self._describe()}.coef_ has shape {W.shape} but the {metric!r} collapse "
                f"metric needs ({K}, {d}): one row per label of Y, acting on the "
                f"{d}-dimensional features the estimator's transform returns."
            )
        b = _get_attr(self.final, "intercept_")
        if b is not None:
            b = np.broadcast_to(np.asarray(b, dtype=np.float64), (K,)).copy()
        return W, b

    def predictions(self, classes: np.ndarray | None) -> Any:
        if self.is_network:
            return self.network().label_sets
        if self.final is None or not hasattr(self.final, "predict"):
            raise ValueError(
                f"The 'nc4' collapse metric needs predicted label sets, but "
                f"{self._describe()} has no predict method."
            )
        pred = self.final.predict(self._X)
        if sp.issparse(pred):
            return pred
        pred = np.asarray(pred)
        if pred.ndim == 1:
            if classes is None:
                raise ValueError(
                    "The estimator predicts 1-D classes but Y is a label indicator; they "
                    "must have the same form."
                )
            return as_indicator(pred, classes=classes)[0]
        return pred

    def logits(self, K: int) -> Any:
        if self.is_network:
            return self.network().logits[:, :K].double()
        W = _get_attr(self.final, "coef_")
        d = _feature_dim(self) if W is not None else None
        if W is not None and d is not None and np.shape(W) == (K, d):
            W, b = self.weights(K, d, "soft_iou")
            H = self.features()
            Hd = H.toarray() if sp.issparse(H) else np.asarray(H)
            return Hd @ W.T + (0.0 if b is None else b)
        if self.final is not None and hasattr(self.final, "decision_function"):
            scores = np.asarray(self.final.decision_function(self._X), dtype=np.float64)
            if scores.ndim == 2 and scores.shape[1] == K:
                return scores
        raise ValueError(
            f"The 'soft_iou' collapse metric needs one logit per label ({K}): "
            f"{self._describe()} has neither a coef_ of shape ({K}, d) nor a "
            f"decision_function returning ({K},) scores per sample."
        )

    def _describe(self) -> str:
        if self.final is None:
            return f"the {self.name} (no final estimator)"
        inner = type(self.final).__name__
        return inner if inner == self.name else f"{inner} (final step of {self.name})"


def _get_attr(estimator: Any, name: str) -> Any:
    if estimator is None:
        return None
    try:
        return getattr(estimator, name, None)
    except Exception:
        return None


def _feature_dim(out: _Outputs) -> int | None:
    try:
        return int(out.features().shape[1])
    except Exception:
        return None


# ------------------------------------------------------------------ metric registry
# Each metric: (out: the estimator's outputs, Y: indicator, classes of a 1-D Y or None,
# options: a copy of the scorer's options) -> value.
def _score_nc1(out: _Outputs, Y: Any, classes: Any, options: dict) -> float:
    return nc1(out.features(), Y, **options)


def _score_nc2(out: _Outputs, Y: Any, classes: Any, options: dict) -> float:
    which = options.pop("which", "means")
    H = out.features()
    W = None if which == "means" else out.weights(Y.shape[1], H.shape[1], "nc2")[0]
    result = nc2(H, Y, W=W, **options)
    return _NC2_WHICH[which](result)


def _score_nc3(out: _Outputs, Y: Any, classes: Any, options: dict) -> float:
    H = out.features()
    return nc3(H, Y, W=out.weights(Y.shape[1], H.shape[1], "nc3")[0], **options)


def _score_tagwise(out: _Outputs, Y: Any, classes: Any, options: dict) -> float:
    multiplicity = options.pop("multiplicity", 2)
    nc_m = tagwise_average(out.features(), Y, **options).nc_m
    if multiplicity == "mean":
        values = [v for v in nc_m.values() if not math.isnan(v)]
        if values:
            return float(np.mean(values))
        reason = "no label set of multiplicity >= 2 could be evaluated"
    elif multiplicity in nc_m:
        return nc_m[multiplicity]
    else:
        reason = f"Y has no label set of multiplicity {multiplicity}"
    warnings.warn(f"NC_m is NaN: {reason}", RuntimeWarning, stacklevel=3)
    return math.nan


def _score_nc4(out: _Outputs, Y: Any, classes: Any, options: dict) -> float:
    return nc4(out.features(), Y, out.predictions(classes))


def _score_soft_iou(out: _Outputs, Y: Any, classes: Any, options: dict) -> float:
    return soft_iou(out.logits(int(Y.shape[1])), Y)


_NC2_WHICH = {
    "means": lambda result: result.means,
    "classifier": lambda result: result.classifier,
    "both": lambda result: (result.means + result.classifier) / 2,
}


def _check_which(which: Any) -> None:
    if which not in _NC2_WHICH:
        raise ValueError(f"which must be one of {tuple(_NC2_WHICH)}; got {which!r}.")


def _check_multiplicity(m: Any) -> None:
    if not (m == "mean" or (isinstance(m, numbers.Integral) and m >= 2)):
        raise ValueError(f"multiplicity must be an int >= 2 or 'mean'; got {m!r}.")


class _Metric(NamedTuple):
    """A collapse metric as a scorer sees it."""

    score: Callable[..., float]
    greater_is_better: bool
    options: frozenset[str]
    checks: dict[str, Callable[[Any], None]]


#: metric name -> implementation, direction, accepted options and their checks
_METRICS: dict[str, _Metric] = {
    "nc1": _Metric(_score_nc1, False, frozenset({"classes", "inverse", "global_mean"}), {}),
    "nc2": _Metric(
        _score_nc2,
        False,
        frozenset({"which", "centered", "global_mean"}),
        {"which": _check_which},
    ),
    "nc3": _Metric(_score_nc3, False, frozenset({"global_mean"}), {}),
    "tagwise": _Metric(
        _score_tagwise,
        False,
        frozenset({"multiplicity", "centered", "global_mean", "max_subsets", "random_state"}),
        {"multiplicity": _check_multiplicity},
    ),
    "nc4": _Metric(_score_nc4, True, frozenset(), {}),
    "soft_iou": _Metric(_score_soft_iou, True, frozenset(), {}),
}


def _check_options(metric: str, options: dict[str, Any]) -> None:
    entry = _METRICS[metric]
    unknown = sorted(set(options) - entry.options)
    if unknown:
        raise TypeError(
            f"Unknown option(s) {unknown} for metric {metric!r}; "
            f"valid options: {sorted(entry.options) or 'none'}."
        )
    for name, check in entry.checks.items():
        if name in options:
            check(options[name])


# -------------------------------------------------------------------------- scorer
class _CollapseScorer:
    """Scorer of one collapse metric; build it with :func:`make_collapse_scorer`."""

    def __init__(self, metric: str, sign: int, options: dict[str, Any]) -> None:
        self.metric = metric
        self.sign = sign
        self.options = dict(options)

    @property
    def greater_is_better(self) -> bool:
        return self.sign > 0

    def __repr__(self) -> str:
        args = [repr(self.metric)]
        if self.greater_is_better != _METRICS[self.metric].greater_is_better:
            args.append(f"greater_is_better={self.greater_is_better}")
        args += [f"{k}={v!r}" for k, v in self.options.items()]
        return f"make_collapse_scorer({', '.join(args)})"

    def _accept_sample_weight(self) -> bool:
        # scikit-learn's multi-metric scorer asks every scorer (non-routing mode).
        return False

    def __call__(
        self, estimator: Any, X: Any, y_true: Any, sample_weight: Any = None, **kwargs: Any
    ) -> float:
        """Score ``estimator`` on ``(X, y_true)``; greater is better.

        Parameters
        ----------
        estimator : fitted estimator
            An MLabNCClassifier, a Pipeline ending in one, or any estimator giving what
            the metric needs (see :mod:`sklearn_mlabnc.scorers`).
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y_true : array-like of shape (n_samples, n_labels) or (n_samples,)
            0/1 label indicator, or 1-D classes.
        sample_weight : None
            Not supported (collapse metrics are unweighted); must be None.
        **kwargs : dict
            Not supported; must be empty.

        Returns
        -------
        score : float
            The metric times ``+1`` or ``-1`` (NaN when the metric is undefined on this
            data, with a RuntimeWarning saying why).
        """
        if sample_weight is not None:
            raise ValueError("Collapse scorers do not support sample_weight.")
        if kwargs:
            raise TypeError(f"Unexpected scorer argument(s): {sorted(kwargs)}.")
        if y_true is None:
            raise ValueError("Collapse scorers need the true labels Y; got None.")
        check_is_fitted(estimator)
        out = _Outputs(estimator, X)
        Y, classes = as_indicator(y_true, classes=out.classes())
        value = _METRICS[self.metric].score(out, Y, classes, dict(self.options))
        return float(self.sign * value)


def make_collapse_scorer(
    metric: str, *, greater_is_better: bool | None = None, **options: Any
) -> _CollapseScorer:
    """Make a scikit-learn scorer from a multi-label neural-collapse metric.

    Parameters
    ----------
    metric : {'nc1', 'nc2', 'nc3', 'tagwise', 'nc4', 'soft_iou'}
        The metric (see :mod:`sklearn_mlabnc.collapse`):

        - ``'nc1'``: within-class variability :func:`~sklearn_mlabnc.collapse.nc1`
          (lower is better). Options ``classes``, ``inverse``, ``global_mean``.
        - ``'nc2'``: ETF deviation :func:`~sklearn_mlabnc.collapse.nc2` (lower is
          better). Option ``which``: ``'means'`` (default; the centred singleton means,
          defined for any feature extractor and informative even for a fixed ETF head,
          whose own NC2 is always 0), ``'classifier'`` (the rows of ``coef_``) or
          ``'both'`` (the average of the two). Options ``centered``, ``global_mean``.
        - ``'nc3'``: self-duality of ``coef_`` and the centred singleton means
          :func:`~sklearn_mlabnc.collapse.nc3` (lower is better; needs ``coef_``).
          Option ``global_mean``.
        - ``'tagwise'``: the paper's tag-wise average NC_m
          :func:`~sklearn_mlabnc.collapse.tagwise_average` (lower is better). Option
          ``multiplicity``: ``2`` (default, the paper's metric on label pairs), any
          ``m >= 2``, or ``'mean'`` (mean over the multiplicities present); NaN with a
          warning when ``Y`` has no label set of that multiplicity. Options
          ``centered``, ``global_mean``, ``max_subsets``, ``random_state``.
        - ``'nc4'``: agreement of the nearest label-set mean with the predicted label
          set :func:`~sklearn_mlabnc.collapse.nc4` (higher is better; needs ``predict``).
        - ``'soft_iou'``: mean softmax mass on the true label set
          :func:`~sklearn_mlabnc.collapse.soft_iou` (higher is better; needs ``coef_``
          or ``decision_function``).
    greater_is_better : bool, default=None
        Whether the metric's raw value is better when greater. ``None`` uses the
        metric's own direction (above); when ``False`` the scorer returns the negated
        value, as scikit-learn's ``neg_...`` scorers do.
    **options
        Metric conventions listed above, forwarded to the collapse function.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, Y) -> float``, greater is better.

    See Also
    --------
    sklearn.metrics.make_scorer : the analogous factory for metrics of predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> from sklearn_mlabnc.scorers import make_collapse_scorer
    >>> rng = np.random.default_rng(0)
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 10)
    >>> X = Y @ rng.normal(size=(3, 5)) + 0.1 * rng.normal(size=(40, 5))
    >>> net = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), net).fit(X, Y)
    >>> scorer = make_collapse_scorer("nc1", classes="label_sets")
    >>> scorer
    make_collapse_scorer('nc1', classes='label_sets')
    >>> scorer(pipe, X, Y) <= 0
    True
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {sorted(_METRICS)}; got {metric!r}.")
    _check_options(metric, options)
    greater = _METRICS[metric].greater_is_better
    if greater_is_better is not None:
        greater = bool(greater_is_better)
    return _CollapseScorer(metric, 1 if greater else -1, options)


def _ready(metric: str, doc: str) -> _CollapseScorer:
    scorer = make_collapse_scorer(metric)
    scorer.__doc__ = doc
    return scorer


_LINEAR_EXAMPLE = """
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 10)
    >>> X = np.eye(3)[y] + 0.1 * rng.normal(size=(30, 3))
    >>> clf = LogisticRegression().fit(X, y)  # features: X itself; W: clf.coef_
"""

nc1_scorer = _ready(
    "nc1",
    """Negative NC1 of the estimator's features: ``make_collapse_scorer('nc1')``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_mlabnc.scorers import nc1_scorer
    >>> H = np.array([[1.0], [3.0], [5.0], [7.0]])
    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    >>> nc1_scorer(FunctionTransformer().fit(H), H, Y)  # features H, NC1 = 0.125
    -0.125
    """,
)
nc2_scorer = _ready(
    "nc2",
    f"""Negative NC2 of the centred singleton means: ``make_collapse_scorer('nc2')``.

    Examples
    --------{_LINEAR_EXAMPLE}    >>> from sklearn_mlabnc.scorers import nc2_scorer
    >>> bool(-0.1 < nc2_scorer(clf, X, y) <= 0)
    True
    """,
)
nc3_scorer = _ready(
    "nc3",
    f"""Negative NC3 (needs ``coef_``): ``make_collapse_scorer('nc3')``.

    Examples
    --------{_LINEAR_EXAMPLE}    >>> from sklearn_mlabnc.scorers import nc3_scorer
    >>> bool(-0.1 < nc3_scorer(clf, X, y) <= 0)
    True
    """,
)
tagwise_scorer = _ready(
    "tagwise",
    """Negative tag-wise average NC_2 (label pairs): ``make_collapse_scorer('tagwise')``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_mlabnc.scorers import tagwise_scorer
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]])
    >>> H = 0.7 * Y @ (np.eye(3) - 1 / 3)  # pair means along the sums of their labels
    >>> abs(tagwise_scorer(FunctionTransformer().fit(H), H, Y))
    0.0
    """,
)
nc4_scorer = _ready(
    "nc4",
    f"""NC4 agreement rate (needs ``predict``; not negated): ``make_collapse_scorer('nc4')``.

    Examples
    --------{_LINEAR_EXAMPLE}    >>> from sklearn_mlabnc.scorers import nc4_scorer
    >>> nc4_scorer(clf, X, y)
    1.0
    """,
)
soft_iou_scorer = _ready(
    "soft_iou",
    f"""Soft IoU, the softmax mass on the true label set: ``make_collapse_scorer('soft_iou')``.

    Examples
    --------{_LINEAR_EXAMPLE}    >>> from sklearn_mlabnc.scorers import soft_iou_scorer
    >>> bool(0.5 < soft_iou_scorer(clf, X, y) <= 1)
    True
    """,
)

#: The ready-made collapse scorers by name, for ``scoring={**COLLAPSE_SCORERS, ...}``.
COLLAPSE_SCORERS: dict[str, _CollapseScorer] = {
    "neg_nc1": nc1_scorer,
    "neg_nc2": nc2_scorer,
    "neg_nc3": nc3_scorer,
    "neg_tagwise": tagwise_scorer,
    "nc4": nc4_scorer,
    "soft_iou": soft_iou_scorer,
}
_COLLAPSE_SCORERS_DOC = """The ready-made collapse scorers by name, for ``scoring=`` dictionaries.

Examples
--------
>>> from sklearn_mlabnc.scorers import COLLAPSE_SCORERS
>>> list(COLLAPSE_SCORERS)
['neg_nc1', 'neg_nc2', 'neg_nc3', 'neg_tagwise', 'nc4', 'soft_iou']
"""

# Run the ready-made scorers' examples with ``pytest --doctest-modules``.
__test__ = {f"{name}.__doc__": s.__doc__ for name, s in COLLAPSE_SCORERS.items()}
__test__["COLLAPSE_SCORERS"] = _COLLAPSE_SCORERS_DOC
