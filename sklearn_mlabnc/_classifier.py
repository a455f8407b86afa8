"""MLabNCClassifier: the scikit-learn face of a PAL-trained network, run through skorch."""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._calibration import (
    CALIBRATION_TENSOR,
    LabelCalibrator,
    ProbabilityMixin,
    fit_calibration,
)
from ._cuts import METRICS
from ._decision import NetworkOutputs, TagwisePrototypes, apply_rule
from ._docstrings import DOCS, Substitution
from ._inference import chunk_size, decision_scores, predict_stream
from ._parallel import STRATEGIES
from ._persistence import NETWORK_PREFIX, PROTOTYPES_PREFIX, write_model
from ._precision import PRECISION_OPTIONS, resolve_precision
from ._selection import fit_decision
from ._targets import TargetEncoder, needs_background, training_targets
from ._training import (
    LOSSES,
    OPTIMIZERS,
    build_net,
    check_input_magnitude,
    check_params,
    forward_batches,
    params_from_json,
    params_to_json,
    resolve_device,
    split_datasets,
)

_NETWORK, _PROTOTYPES = NETWORK_PREFIX, PROTOTYPES_PREFIX  # tensor names in saved files
_CALIBRATION = CALIBRATION_TENSOR  # the per-label probability maps
# Fitted attributes saved as JSON (key in the file -> attribute); absent ones are saved as
# None (format 1 wrote a missing feature_names_in_ as []).
_SAVED_ATTRIBUTES = {
    "n_features_in": "n_features_in_",
    "feature_names_in": "feature_names_in_",
    "has_background": "has_background_",
    "multiplicities": "multiplicities_",
    "decision": "decision_",
    "threshold": "threshold_",
    "label_thresholds": "label_thresholds_",
    "decision_scores": "decision_scores_",
    "seed": "_seed",
    "calibration": "calibration_",
    "n_iter": "n_iter_",
    "history": "history_",
}
_ARRAYS = {
    "feature_names_in": lambda names: np.asarray(names, dtype=object),
    "multiplicities": np.asarray,
    "label_thresholds": lambda values: np.asarray(values, dtype=np.float64),
}


@Substitution(**DOCS)
class MLabNCClassifier(
    ProbabilityMixin,
    ClassNamePrefixFeaturesOutMixin,
    ClassifierMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Multi-label classifier trained with the pick-all-label loss, optionally on a fixed ETF.

    A PyTorch network (a backbone, then a classifier head) is trained through a skorch
    ``NeuralNet`` built in :meth:`fit`. With ``loss="pal"`` each sample's loss is
    :math:`\\sum_{k\\in S} -\\log \\mathrm{softmax}(z)_k` over its label set :math:`S`
    (Li et al., ICML 2024), under which the features and head converge to the multi-label
    neural-collapse geometry; ``head="etf"`` fixes the classifier to that geometry from the
    start. Targets are multi-label indicator matrices or ordinary 1-D class labels (then PAL
    is softmax cross-entropy).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    sklearn.neural_network.MLPClassifier : one-vs-all sigmoid MLP for multi-label data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> rng = np.random.default_rng(0)
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 25)
    >>> X = Y @ rng.normal(size=(3, 5)) + 0.1 * rng.normal(size=(100, 5))
    >>> clf = MLabNCClassifier(hidden_layer_sizes=(32,), lr=1e-2, max_epochs=50, random_state=0)
    >>> clf.fit(X, Y).predict(X[:4])
    array([[1, 0, 0],
           [0, 1, 0],
           [0, 0, 1],
           [1, 1, 0]])
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    _parameter_constraints: dict = {
        "module": [None, nn.Module, callable],
        "hidden_layer_sizes": ["array-like"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "feature_dim": [
            None,
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"n_classes"}),
        ],
        "head": [StrOptions({"linear", "etf"})],
        "loss": [StrOptions(set(LOSSES))],
        "feature_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "decision": [StrOptions({"auto", "threshold", "per_label", "cardinality", "prototype"})],
        "decision_metric": [StrOptions(set(METRICS))],
        "threshold": [None, Interval(numbers.Real, 0, 1, closed="right")],
        "calibration": [StrOptions({"full", "fast", "off"})],
        "empty_label_sets": [StrOptions({"background", "ignore", "error"})],
        "device": [str, torch.device],
        "precision": [StrOptions(PRECISION_OPTIONS)],
        "compile": ["boolean"],
        "strategy": [StrOptions(set(STRATEGIES))],
        "collapse_every": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [None, list],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(256, 256),
        dropout=0.5,
        feature_dim=None,
        head="linear",
        loss="pal",
        feature_decay=0.0,
        weight_decay=5e-4,
        optimizer="adam",
        lr=1e-3,
        momentum=0.9,
        lr_schedule="cosine",
        batch_size=128,
        max_epochs=40,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        decision="auto",
        decision_metric="f1_micro",
        threshold=None,
        calibration="fast",
        empty_label_sets="background",
        device="auto",
        precision="auto",
        compile=False,
        strategy="single",
        collapse_every=None,
        callbacks=None,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.feature_dim = feature_dim
        self.head = head
        self.loss = loss
        self.feature_decay = feature_decay
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.decision = decision
        self.decision_metric = decision_metric
        self.threshold = threshold
        self.calibration = calibration
        self.empty_label_sets = empty_label_sets
        self.device = device
        self.precision = precision
        self.compile = compile
        self.strategy = strategy
        self.collapse_every = collapse_every
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    @Substitution(**DOCS)
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on ``X`` and targets ``y``.

        {X_parameters}
        {y}

        Returns
        -------
        self : MLabNCClassifier
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X, Y = make_multilabel_classification(n_samples=60, n_classes=4, random_state=0)
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(16,), max_epochs=3).fit(X, Y)
        >>> clf.n_iter_
        3
        """
        incremental = self.warm_start and hasattr(self, "net_")
        return self._fit(X, y, epochs=self.max_epochs, incremental=incremental)

    @Substitution(**DOCS)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on ``X, y``, continuing from the current parameters.

        The first call sets up the network (and the label space) from this batch of data.

        {X_parameters}
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Targets, in the same form as in the first call.
        classes : array-like, default=None
            All class labels of 1-D targets, required on the first call when a batch may not
            contain every class; ignored for multi-label targets.

        Returns
        -------
        self : MLabNCClassifier
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X = np.random.default_rng(0).normal(size=(40, 3))
        >>> Y = (X[:, :2] > 0).astype(int)
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), random_state=0)
        >>> clf.partial_fit(X, Y).partial_fit(X, Y).n_iter_
        2
        """
        return self._fit(
            X, y, epochs=1, incremental=hasattr(self, "net_"), classes=classes, select=False
        )

    def _fit(self, X, y, *, epochs, incremental, classes=None, select=True):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        check_params(self.get_params(deep=False))
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=(np.float32, np.float64),
            reset=not incremental,
            ensure_min_samples=2,
        )
        check_input_magnitude(X)
        if not incremental:
            self._encoder = TargetEncoder()
            indicator = self._encoder.fit_transform(y, classes=classes)
            self.classes_ = self._encoder.classes_
            self.n_labels_ = self._encoder.n_labels_
            self.has_background_ = needs_background(
                indicator, self._encoder.kind_, self.loss, self.empty_label_sets
            )
        else:
            indicator = self._encoder.transform(y)
        pal = self._encoder.kind_ == "multilabel" and self.loss != "bce"
        X_all = X  # every row, for the decision rule's fold models
        X, targets = training_targets(
            X, indicator, pal, self.empty_label_sets, self.has_background_
        )

        strategy = STRATEGIES[self.strategy]()  # one process, or this one among several
        if not incremental:
            self._seed = strategy.seed(self.random_state)
            self.net_ = self._build_net(X, targets.shape[1], strategy.device(self.device))
        params = self.get_params(deep=False)
        train, valid = split_datasets(X, targets, self.net_.device, params, self._seed)
        strategy.train(self.net_, train, valid, epochs, self._seed)

        self.history_ = self.net_.history.to_list()
        self.n_iter_ = len(self.history_)
        self._fit_decision(train, X_all, indicator, select)
        return self

    def _build_net(self, X, n_outputs, device):
        params = self.get_params(deep=False)
        self.precision_ = resolve_precision(self.precision, device)
        return build_net(params, X, n_outputs, self.n_labels_, device, self._seed)

    def _fit_decision(self, train, X, indicator, select):
        """Choose the decision rule (see ``_selection``) and fit what it needs."""
        stale = ("threshold_", "label_thresholds_", "decision_scores_", "_prototypes")
        for name in (*stale, "_calibrator", "calibration_"):
            self.__dict__.pop(name, None)  # from an earlier fit
        multilabel = self._encoder.kind_ == "multilabel"
        context = (train, self._forward_dataset, self._seed, select, multilabel)
        fitted = fit_decision(self, X, indicator, *context)
        if multilabel:  # calibrated per-label probabilities (see _calibration)
            outputs = lambda: (self._forward_dataset(train)[0], train.Y)  # noqa: E731
            fitted.update(fit_calibration(self, X, indicator, fitted, outputs, select))
        self.__dict__.update(fitted)

    # --------------------------------------------------------------- prediction
    def _forward_dataset(self, dataset):
        return forward_batches(self.net_.module_, dataset, chunk_size(self.batch_size))

    @Substitution(**DOCS)
    def network_outputs(self, X) -> NetworkOutputs:
        """Label logits, penultimate features and predicted label sets from one forward pass.

        What collapse metrics need (see :mod:`sklearn_mlabnc.scorers`), as tensors on the
        network's device, without the three passes of separate ``decision_function``,
        ``transform`` and ``predict`` calls.

        {X_parameters}

        Returns
        -------
        outputs : NetworkOutputs
            Named tuple ``(logits, features, label_sets)``.

        Examples
        --------
        {fitted_example}
        >>> out = clf.network_outputs(X)
        >>> tuple(out.logits.shape), tuple(out.features.shape), out.label_sets.dtype
        ((40, 3), (40, 8), torch.bool)
        """

        def compute(logits, features):
            return logits[:, : self.n_labels_], features, self._label_sets(logits, features)

        return NetworkOutputs(*predict_stream(self, X, compute, on_device=True))

    @property
    def _columns(self) -> dict:
        """How logits become label scores (see ``_inference.probabilities``)."""
        return {"independent": self._independent_labels, "n_labels": self.n_labels_}

    @property
    def _independent_labels(self) -> bool:
        """One sigmoid per label (BCE on multi-label targets) rather than a softmax."""
        return self.loss == "bce" and self._encoder.kind_ == "multilabel"

    def _label_sets(self, logits, features):
        """Boolean (n, n_labels) predictions on the device."""
        if self._encoder.kind_ != "multilabel":
            return torch.nn.functional.one_hot(logits.argmax(dim=1), self.n_labels_).bool()
        return apply_rule(
            self.decision_,
            logits,
            features,
            has_background=self.has_background_,
            multiplicities=self.multiplicities_,
            threshold=getattr(self, "threshold_", None),
            label_thresholds=getattr(self, "label_thresholds_", None),
            prototypes=getattr(self, "_prototypes", None),
            independent=self._independent_labels,
        )

    @Substitution(**DOCS)
    def predict(self, X):
        """Predict label sets (multi-label) or classes (1-D targets).

        {X_parameters}

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_labels) or (n_samples,)
            A 0/1 indicator for multi-label targets, else class labels.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0]] * 20)
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), lr=1e-2, max_epochs=30, random_state=0)
        >>> clf.fit(X, ["b", "a"] * 20).predict([[0.0, 1.0]])
        array(['b'], dtype='<U1')
        """
        (predicted,) = predict_stream(self, X, lambda z, h: (self._label_sets(z, h),))
        return self._encoder.inverse_transform(predicted)

    @Substitution(**DOCS)
    def decision_function(self, X):
        """Normalised logits: ``log p_k`` (PAL) or raw logits (BCE), per label.

        For PAL, :math:`\\log \\mathrm{softmax}(z)_k` differs from the raw logit only by a
        per-sample constant, which makes scores comparable across samples (for ranking
        metrics). For 1-D binary targets, returns the logit difference of the positive class.

        {X_parameters}

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels) or (n_samples,)
            Scores; larger means more likely.

        Examples
        --------
        {fitted_example}
        >>> clf.decision_function(X[:2]).shape
        (2, 3)
        """

        def compute(logits, features):  # called after the fitted check
            binary = self._encoder.kind_ == "multiclass" and self.n_labels_ == 2
            return (decision_scores(logits, **self._columns, binary=binary).double(),)

        return predict_stream(self, X, compute)[0]

    @Substitution(**DOCS)
    def transform(self, X):
        """Penultimate features of the network.

        {X_parameters}

        Returns
        -------
        features : ndarray of shape (n_samples, d)
            The features the head sees.

        Examples
        --------
        {fitted_example}
        >>> clf.transform(X).shape  # the width of the last hidden layer
        (40, 8)
        """
        return predict_stream(self, X, lambda z, h: (h.double(),))[0]

    @Substitution(**DOCS)
    def save(self, path) -> Path:
        """Save the fitted model to a safetensors file, loadable without pickle.

        ``module`` must be ``None``, a backbone class from :mod:`sklearn_mlabnc.backbones`
        or a ``functools.partial`` of one with JSON-friendly arguments, and ``callbacks``
        ``None`` (other objects need code to rebuild: pickle those). Optimizer state is not
        saved: ``warm_start`` training restarts the optimizer. See
        :func:`~sklearn_mlabnc.load_model`; a model saved on a GPU loads on a CPU.

        Parameters
        ----------
        path : str or path-like
            Destination file, conventionally ``*.safetensors``.

        Returns
        -------
        pathlib.Path
            The written path.

        Examples
        --------
        {fitted_example}
        >>> import tempfile
        >>> clf.save(tempfile.mkdtemp() + "/model.safetensors").suffix
        '.safetensors'
        """
        documents, tensors = self._fitted_state()
        return write_model(path, tensors, documents)

    def _fitted_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """JSON documents (``params``, ``fitted``) and tensors that rebuild this model."""
        check_is_fitted(self, "net_")
        params = params_to_json(self.get_params(deep=False))
        fitted = {key: getattr(self, name, None) for key, name in _SAVED_ATTRIBUTES.items()}
        fitted.update(self._encoder.to_dict(), n_outputs=int(self.net_.module_.head.bias.shape[0]))
        tensors = {_NETWORK + k: v for k, v in self.net_.module_.state_dict().items()}
        if hasattr(self, "_calibrator"):
            tensors[_CALIBRATION] = torch.as_tensor(self._calibrator.coef_)
        prototypes = getattr(self, "_prototypes", None)
        if prototypes is not None:
            state = prototypes.to_dict()
            fitted["scales"] = state.pop("scales")
            for name, array in state.items():
                if array is not None:
                    tensors[_PROTOTYPES + name] = torch.as_tensor(array)
        return {"params": params, "fitted": fitted}, tensors

    @classmethod
    def _from_fitted_state(cls, documents: dict, tensors: dict, device=None) -> MLabNCClassifier:
        """The fitted model that :meth:`_fitted_state` described, its network on ``device``."""
        params, fitted = params_from_json(documents["params"]), documents["fitted"]
        if device is None:  # a model trained on a GPU loads on a CPU-only machine
            saved = params["device"]
            device = saved if saved == "auto" or not saved.startswith("cuda") else "auto"
        estimator = cls(**params)
        estimator._encoder = encoder = TargetEncoder.from_dict(fitted)
        estimator.classes_ = encoder.classes_
        estimator.n_labels_ = encoder.n_labels_
        for key, name in _SAVED_ATTRIBUTES.items():
            value = fitted.get(key)  # older files lack the newer attributes
            if value is not None and not (isinstance(value, list) and not value):
                setattr(estimator, name, _ARRAYS[key](value) if key in _ARRAYS else value)
        placeholder = np.zeros((2, fitted["n_features_in"]), dtype=np.float32)
        estimator.net_ = estimator._build_net(
            placeholder, fitted["n_outputs"], resolve_device(device)
        )
        state = {k[len(_NETWORK) :]: v for k, v in tensors.items() if k.startswith(_NETWORK)}
        try:
            estimator.net_.module_.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"The saved tensors do not fit the network: {exc}") from exc
        if _CALIBRATION in tensors:  # files from before calibrated probabilities lack it
            estimator._calibrator = LabelCalibrator.from_coef(tensors[_CALIBRATION].numpy())
        if "scales" in fitted:
            arrays = {
                k[len(_PROTOTYPES) :]: v.numpy()
                for k, v in tensors.items()
                if k.startswith(_PROTOTYPES)
            }
            estimator._prototypes = TagwisePrototypes.from_dict(
                {"scales": fitted["scales"], **arrays}
            )
        return estimator

    # --------------------------------------------------------------- introspection
    @property
    def coef_(self) -> np.ndarray:
        """Classifier weight :math:`W`, shape ``(n_labels, d)`` (background row excluded)."""
        check_is_fitted(self, "net_")
        weight = self.net_.module_.head.weight.detach()
        return weight[: self.n_labels_].cpu().numpy().astype(np.float64)

    @property
    def intercept_(self) -> np.ndarray:
        """Classifier bias :math:`b`, shape ``(n_labels,)`` (background entry excluded)."""
        check_is_fitted(self, "net_")
        bias = self.net_.module_.head.bias
        if bias is None:
            return np.zeros(self.n_labels_)
        return bias.detach()[: self.n_labels_].cpu().numpy().astype(np.float64)

    @property
    def _n_features_out(self) -> int:
        return self.net_.module_.n_features

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags
