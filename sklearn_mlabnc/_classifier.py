"""MLabNCClassifier: the scikit-learn face of a PAL-trained network, run through skorch."""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping, LRScheduler
from torch import nn

from ._batching import BatchIterator, TensorBatches
from ._decision import (
    TagwisePrototypes,
    cardinality_rule,
    split_background,
    threshold_rule,
    tune_threshold,
)
from ._losses import OneVsAllLoss, PickAllLabelLoss
from ._network import MLabNCNetwork
from ._targets import TargetEncoder
from ._training import EpochProgressBar, FastNeuralNet, FixedSplit, PenalizedLoss
from .backbones import MLP
from .callbacks import CollapseMonitor

_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
_PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}
# Inference batches can be larger than training ones: no activations are kept for backward.
_PREDICT_BATCH_FACTOR = 4


class MLabNCClassifier(
    ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseEstimator
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
    module : torch.nn.Module class or instance, default=None
        Backbone mapping ``(batch, n_features_in_)`` inputs to 2-D features. A class (or any
        callable) is called as ``module(n_features_in_)``; an instance is copied and its
        parameters reset at each fit. ``None`` uses an :class:`~sklearn_mlabnc.backbones.MLP`
        with ``hidden_layer_sizes``.
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Hidden widths of the default MLP backbone.
    dropout : float in [0, 1), default=0.5
        Dropout probability after each hidden block of the default MLP except the last, so
        the penultimate features are never dropped (measured to help on small tabular data,
        see the benchmarks; ignored for a user ``module``).
    feature_dim : int, "n_classes" or None, default=None
        Penultimate feature dimension :math:`d`. ``"n_classes"`` gives :math:`d = K` (the
        number of outputs), the paper's parameter-saving setting for ``head="etf"``.
        For the default MLP it sets the width of the last hidden layer; a ``module`` class
        (or callable) accepting ``n_outputs`` is built with ``n_outputs=feature_dim`` (as
        :class:`~sklearn_mlabnc.backbones.ResNet18` does, which then trains about 20% fewer
        parameters with ``head="etf"``); any other backbone gets a learned linear
        projection to ``feature_dim``. ``None`` keeps the backbone's width.
    head : {"linear", "etf"}, default="linear"
        Learned linear classifier, or a fixed simplex equiangular tight frame (only the bias
        is trained; needs :math:`d \\ge K`).
    loss : {"pal", "pal_normalized", "bce"}, default="pal"
        Pick-all-label cross-entropy, its variant with targets divided by :math:`|S|`, or
        one-vs-all binary cross-entropy (the usual baseline).
    feature_decay : float, default=0.0
        Weight :math:`\\lambda_H` of the penalty :math:`\\lambda_H \\|H_{batch}\\|_F^2` on the
        penultimate features (the paper uses 1e-3).
    weight_decay : float, default=5e-4
        L2 penalty on all trainable parameters (the optimizer's ``weight_decay``).
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimizer; ``momentum`` applies to SGD (and its subclasses). The named ones run
        torch's fused update (one kernel for all parameters) on CPU and CUDA devices; a
        class is used as given.
    lr : float, default=1e-3
        Learning rate.
    momentum : float, default=0.9
        SGD momentum.
    lr_schedule : {"constant", "cosine"}, default="cosine"
        ``"cosine"`` anneals the learning rate to ``lr / 1000`` over ``max_epochs``, as in
        the paper.
    batch_size : int, default=128
        Training batch size.
    max_epochs : int, default=40
        Number of passes over the training data (fewer with early stopping).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its loss has not improved
        for ``n_iter_no_change`` epochs, restoring the best parameters.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    decision : {"auto", "threshold", "cardinality", "prototype"}, default="auto"
        How scores become label sets (multi-label targets only; see the user guide's
        measured comparison). ``"auto"`` is ``"cardinality"`` for PAL losses (best
        micro-F1 and Hamming loss on emotions and yeast in the measurements; ``"prototype"``
        wins on multi-label digits) and ``sigmoid >= 0.5`` for ``loss="bce"``.
    threshold : float in (0, 1], default=None
        Fraction ``t`` of the ``"threshold"`` rule (label k on when
        :math:`p_k \\ge t \\max_j p_j`; for ``loss="bce"`` the sigmoid cut-off). ``None`` tunes
        it for micro-F1 on the training data (PAL) or uses 0.5 (BCE).
    empty_label_sets : {"background", "ignore", "error"}, default="background"
        Handling of multi-label rows with no positive label, on which PAL is undefined:
        an extra internal "no label" output whose win predicts the empty set, dropping those
        rows with a warning, or an error. Unused for ``loss="bce"``, which handles them.
    device : str or torch.device, default="auto"
        ``"auto"`` picks CUDA when available, else the CPU.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs forward passes under autocast (losses stay in float32).
    compile : bool, default=False
        Compile the network with ``torch.compile`` (in place, so parameter names and saved
        models are unchanged). The first epoch pays a compilation of seconds to a minute;
        it pays off on GPUs, where it fuses the small kernels of a step. A pickled or
        saved model is loaded uncompiled.
    collapse_every : int, default=None
        Record the collapse metrics of the training features (and of the validation
        features with early stopping) in ``history_`` every this many epochs, through a
        :class:`~sklearn_mlabnc.callbacks.CollapseMonitor`. ``None`` records none.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks for the underlying ``NeuralNet``.
    warm_start : bool, default=False
        Continue training the fitted network in :meth:`fit` instead of starting anew.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split; with an int, fits on the
        CPU are reproducible.
    verbose : int, default=0
        Show a progress bar over epochs when > 0.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~sklearn_mlabnc.MLabNCNetwork`.
    classes_ : ndarray or list of ndarray
        Class labels (1-D targets), or ``[array([0, 1])] * n_labels`` for multi-label
        targets, the form scikit-learn's scorers expect.
    n_labels_ : int
        Number of labels (columns of the indicator) or classes.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input feature names, when ``X`` is a DataFrame with string column names.
    n_iter_ : int
        Number of epochs trained.
    history_ : list of dict
        Per-epoch records (``epoch``, ``train_loss``, ``valid_loss``, ``dur``, ...).
    multiplicities_ : ndarray of int
        Distinct label-set sizes seen in training (0 for empty sets).
    threshold_ : float
        The fraction used by the ``"threshold"`` rule (multi-label targets, with that rule
        or a given ``threshold``).
    decision_ : str
        The decision rule in use.

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
        "loss": [StrOptions({"pal", "pal_normalized", "bce"})],
        "feature_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "decision": [StrOptions({"auto", "threshold", "cardinality", "prototype"})],
        "threshold": [None, Interval(numbers.Real, 0, 1, closed="right")],
        "empty_label_sets": [StrOptions({"background", "ignore", "error"})],
        "device": [str, torch.device],
        "precision": [StrOptions(set(_PRECISIONS))],
        "compile": ["boolean"],
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
        threshold=None,
        empty_label_sets="background",
        device="auto",
        precision="float32",
        compile=False,
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
        self.threshold = threshold
        self.empty_label_sets = empty_label_sets
        self.device = device
        self.precision = precision
        self.compile = compile
        self.collapse_every = collapse_every
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on ``X`` and targets ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs; sparse matrices are densified one batch at a time.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multi-label 0/1 indicator (dense, sparse, list of rows or
            DataFrame).

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

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on ``X, y``, continuing from the current parameters.

        The first call sets up the network (and the label space) from this batch of data.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs.
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
        return self._fit(X, y, epochs=1, incremental=hasattr(self, "net_"), classes=classes)

    def _fit(self, X, y, *, epochs, incremental, classes=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=(np.float32, np.float64),
            reset=not incremental,
            ensure_min_samples=2,
        )
        _check_magnitude(X)
        if not incremental:
            self._encoder = TargetEncoder()
            if classes is not None and np.ndim(y) == 1:
                self._encoder.fit_transform(np.asarray(classes))  # the full label space
                indicator = self._encoder.transform(y)
            else:
                indicator = self._encoder.fit_transform(y)
            self.classes_ = self._encoder.classes_
            self.n_labels_ = self._encoder.n_labels_
        else:
            indicator = self._encoder.transform(y)
        if indicator.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} samples but y has {indicator.shape[0]}; they must match."
            )
        X, indicator = self._handle_empty_sets(X, indicator, first=not incremental)
        targets = self._output_targets(indicator)

        if not incremental:
            self._seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            device = _resolve_device(self.device)
            self.net_ = self._build_net(X, targets.shape[1], device)
        train, valid = self._datasets(X, targets)
        self.net_.train_split = FixedSplit(valid) if valid is not None else None
        self.net_.max_epochs = epochs
        # Dropout draws from torch's global generator: seed it for this call only, so fits
        # are reproducible and the caller's random state is left alone.
        device = torch.device(self.net_.device)
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self._seed + len(self.net_.history))
            self.net_.partial_fit(train, None)
        self.net_.train_split = None  # do not keep (device) data inside the fitted model

        self.history_ = self.net_.history.to_list()
        self.n_iter_ = len(self.history_)
        self._fit_decision(train, indicator)
        return self

    def _handle_empty_sets(self, X, indicator, first):
        if self._encoder.kind_ != "multilabel" or self.loss == "bce":
            if first:
                self.has_background_ = False
            return X, indicator
        empty = indicator.sum(axis=1) == 0
        if first:
            self.has_background_ = bool(empty.any()) and self.empty_label_sets == "background"
        if not empty.any() or self.has_background_:
            return X, indicator
        if self.empty_label_sets == "error":
            raise ValueError(
                f"{int(empty.sum())} rows of y have no positive label; the pick-all-label loss "
                "is undefined on them. Use empty_label_sets='background' (predict the empty set "
                "through an extra output) or 'ignore' (drop them), or loss='bce'."
            )
        if self.empty_label_sets == "background":  # not seen in the first fit
            raise ValueError(
                "This batch has rows with no positive label, but the first fit had none, so "
                "the model has no background output. Include such rows in the first call or "
                "use empty_label_sets='ignore'."
            )
        warnings.warn(
            f"Dropping {int(empty.sum())} rows of y with no positive label "
            "(empty_label_sets='ignore').",
            UserWarning,
            stacklevel=4,
        )
        if empty.all():
            raise ValueError("Every row of y is empty; nothing to train on.")
        return X[~empty], indicator[~empty]

    def _output_targets(self, indicator):
        if not getattr(self, "has_background_", False):
            return indicator
        background = (indicator.sum(axis=1, keepdims=True) == 0).astype(np.float32)
        return np.hstack([indicator, background])

    def _build_net(self, X, n_outputs, device):
        feature_dim = n_outputs if self.feature_dim == "n_classes" else self.feature_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            backbone, width = self._make_backbone(X, feature_dim)
            network = MLabNCNetwork(
                backbone,
                n_outputs=n_outputs,
                head=self.head,
                feature_dim=feature_dim,
                n_backbone_outputs=width,
                example_input=None if width else _example_batch(X),
                random_state=self._seed,
                autocast_dtype=_PRECISIONS[self.precision],
            )
        if self.compile:
            network.compile()
        base_loss = {
            "pal": PickAllLabelLoss(),
            "pal_normalized": PickAllLabelLoss(normalize=True),
            "bce": OneVsAllLoss(),
        }[self.loss]
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        optimizer_params = {"optimizer__weight_decay": self.weight_decay}
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.SGD):
            optimizer_params["optimizer__momentum"] = self.momentum
        if _fusable(optimizer, network, device):
            # One fused kernel updates every parameter instead of a few kernels each.
            optimizer_params["optimizer__fused"] = True
        callbacks = []
        if self.lr_schedule == "cosine":
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(
                        policy="CosineAnnealingLR", T_max=self.max_epochs, eta_min=self.lr / 1000
                    ),
                )
            )
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(patience=self.n_iter_no_change, load_best=True),
                )
            )
        if self.collapse_every:
            on = ("train", "valid") if self.early_stopping else ("train",)
            monitor = CollapseMonitor(self.collapse_every, on=on, n_labels=self.n_labels_)
            callbacks.append(("collapse_monitor", monitor))
        if self.verbose:
            callbacks.append(("progress", EpochProgressBar(self.max_epochs)))
        callbacks += list(self.callbacks or [])
        net = FastNeuralNet(
            module=network,
            criterion=PenalizedLoss(base_loss, self.feature_decay),
            optimizer=optimizer,
            lr=self.lr,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_train__shuffle=True,
            iterator_train__seed=self._seed,
            iterator_valid=BatchIterator,
            train_split=None,
            callbacks=callbacks,
            device=device,
            verbose=0,
            **optimizer_params,
        )
        return net.initialize()

    def _make_backbone(self, X, feature_dim):
        """The backbone and its output width (None when it must be inferred)."""
        if self.module is None:
            widths = [int(w) for w in self.hidden_layer_sizes]
            if feature_dim is not None:  # d sets the width of the last hidden layer
                widths = widths[:-1] + [feature_dim]
            mlp = MLP(X.shape[1], widths, dropout=self.dropout)
            return mlp, mlp.n_outputs
        if isinstance(self.module, nn.Module):
            backbone = copy.deepcopy(self.module)
            for layer in backbone.modules():
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
        else:
            kwargs = {}
            if feature_dim is not None and _accepts(self.module, "n_outputs"):
                kwargs["n_outputs"] = feature_dim  # the backbone itself ends at width d
            backbone = self.module(X.shape[1], **kwargs)
            if not isinstance(backbone, nn.Module):
                raise TypeError(
                    "module must be a torch.nn.Module instance or a callable returning one "
                    f"when called as module(n_features_in_); got {type(backbone).__name__}."
                )
        return backbone, getattr(backbone, "n_outputs", None)

    def _datasets(self, X, targets):
        device = self.net_.device
        if not self.early_stopping:
            return TensorBatches(X, targets, device), None
        rng = np.random.RandomState(self._seed)
        order = rng.permutation(X.shape[0])
        n_valid = max(1, int(round(self.validation_fraction * X.shape[0])))
        if X.shape[0] - n_valid < 2:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} leaves "
                f"fewer than 2 training samples out of {X.shape[0]}; use more data or "
                "early_stopping=False."
            )
        valid_idx, train_idx = np.sort(order[:n_valid]), np.sort(order[n_valid:])
        return (
            TensorBatches(X[train_idx], targets[train_idx], device),
            TensorBatches(X[valid_idx], targets[valid_idx], device),
        )

    def _fit_decision(self, train, indicator):
        """Fit what the decision rule needs from the training data's outputs."""
        sizes = indicator.sum(axis=1).astype(int)
        self.multiplicities_ = np.unique(sizes)
        self.decision_ = self.decision
        if self.decision == "auto":
            self.decision_ = "threshold" if self.loss == "bce" else "cardinality"
        if self._encoder.kind_ != "multilabel":
            return
        for stale in ("threshold_", "_prototypes"):  # from an earlier fit
            self.__dict__.pop(stale, None)
        tune = self.decision_ == "threshold" and self.threshold is None and self.loss != "bce"
        if self.decision_ == "threshold" and not tune:
            self.threshold_ = 0.5 if self.threshold is None else float(self.threshold)
        if not tune and self.decision_ != "prototype":
            return  # the rule needs nothing from the training outputs: no extra pass
        logits, features = self._forward_dataset(train)
        if tune:
            label_logits, empty = split_background(logits, self.has_background_)
            truth = torch.as_tensor(train.Y[:, : self.n_labels_], device=logits.device)
            self.threshold_ = tune_threshold(label_logits, empty, truth)
        else:
            self._prototypes = TagwisePrototypes().fit(
                features.cpu().numpy(), train.Y[:, : self.n_labels_].cpu().numpy()
            )

    # --------------------------------------------------------------- prediction
    def _forward_dataset(self, dataset):
        module = self.net_.module_
        # Inference leaves the module in eval mode rather than restoring the previous mode:
        # toggling back would race with concurrent predict calls from other threads.
        module.eval()
        iterator = BatchIterator(dataset, batch_size=self.batch_size * _PREDICT_BATCH_FACTOR)
        logits, features = [], []
        with torch.inference_mode():
            for Xb, _ in iterator:
                z, h = module(Xb)
                logits.append(z)
                features.append(h)
        return torch.cat(logits), torch.cat(features)

    def _forward(self, X):
        check_is_fitted(self, "net_")
        X = validate_data(
            self, X, accept_sparse="csr", dtype=(np.float32, np.float64), reset=False
        )
        _check_magnitude(X)
        return self._forward_dataset(TensorBatches(X, None, self.net_.device))

    @property
    def _independent_labels(self) -> bool:
        """One sigmoid per label (BCE on multi-label targets) rather than a softmax."""
        return self.loss == "bce" and self._encoder.kind_ == "multilabel"

    def _label_sets(self, logits, features):
        """Boolean (n, n_labels) predictions on the device."""
        if self._encoder.kind_ != "multilabel":
            return torch.nn.functional.one_hot(logits.argmax(dim=1), self.n_labels_).bool()
        label_logits, empty = split_background(logits, self.has_background_)
        if self.decision_ == "cardinality":
            return cardinality_rule(label_logits, empty, self.multiplicities_)
        if self.decision_ == "prototype":
            return self._prototypes.predict(features, label_logits, self.multiplicities_)
        if self._independent_labels:
            return torch.sigmoid(label_logits) >= self.threshold_
        return threshold_rule(label_logits, empty, self.threshold_)

    def predict(self, X):
        """Predict label sets (multi-label) or classes (1-D targets).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs.

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
        logits, features = self._forward(X)
        predicted = self._label_sets(logits, features).cpu().numpy()
        return self._encoder.inverse_transform(predicted)

    def predict_proba(self, X):
        """Scores in [0, 1] per label (multi-label) or class probabilities (1-D targets).

        For PAL losses these are softmax probabilities over all outputs; for multi-label
        targets with a background output its column is left out, so a row sums to at most 1.
        For ``loss="bce"`` they are per-label sigmoids.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels)
            Scores.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0]] * 20)
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
        >>> proba = clf.fit(X, [1, 0] * 20).predict_proba(X[:2])
        >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1))
        ((2, 2), True)
        """
        logits, _ = self._forward(X)
        if self._independent_labels:
            proba = torch.sigmoid(logits)
        else:
            proba = torch.softmax(logits, dim=1)[:, : self.n_labels_]
        return proba.cpu().numpy().astype(np.float64)

    def decision_function(self, X):
        """Normalised logits: ``log p_k`` (PAL) or raw logits (BCE), per label.

        For PAL, :math:`\\log \\mathrm{softmax}(z)_k` differs from the raw logit only by a
        per-sample constant, which makes scores comparable across samples (for ranking
        metrics). For 1-D binary targets, returns the logit difference of the positive class.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels) or (n_samples,)
            Scores; larger means more likely.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0]] * 20)
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
        >>> clf.fit(X, [1, 0] * 20).decision_function(X[:2]).shape
        (2,)
        """
        logits, _ = self._forward(X)
        if self._independent_labels:
            scores = logits
        else:
            scores = torch.log_softmax(logits, dim=1)[:, : self.n_labels_]
            if self._encoder.kind_ == "multiclass" and self.n_labels_ == 2:
                scores = scores[:, 1] - scores[:, 0]
        return scores.cpu().numpy().astype(np.float64)

    def transform(self, X):
        """Penultimate features of the network.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        features : ndarray of shape (n_samples, d)
            The features the head sees.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X = np.random.default_rng(0).normal(size=(30, 4))
        >>> Y = (X[:, :3] > 0).astype(int)
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(16,), feature_dim="n_classes",
        ...                        head="etf", max_epochs=2).fit(X, Y)
        >>> clf.transform(X).shape
        (30, 4)
        """
        _, features = self._forward(X)
        return features.cpu().numpy().astype(np.float64)

    def save(self, path):
        """Save the fitted model to a safetensors file, loadable without pickle.

        See :func:`~sklearn_mlabnc.load_model`; a model saved on a GPU loads on a CPU.

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
        >>> import tempfile, numpy as np
        >>> from sklearn_mlabnc import MLabNCClassifier
        >>> X = np.random.default_rng(0).normal(size=(30, 3))
        >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=1).fit(X, X[:, :2] > 0)
        >>> clf.save(tempfile.mkdtemp() + "/model.safetensors").suffix
        '.safetensors'
        """
        from ._persistence import save_model

        return save_model(self, path)

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


def _resolve_device(device) -> torch.device:
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
            ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False). Use device='cpu' or 'auto', or install a "
            "CUDA build of torch."
        )
    if resolved.type == "cuda" and resolved.index is not None:
        if resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: {torch.cuda.device_count()} CUDA device(s)."
            )
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"Unsupported device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'.")
    return resolved


# Networks run in float32, where squares of values above ~1e19 overflow; well before that,
# activations and batch statistics lose all precision.
_MAX_ABS_INPUT = 1e15


def _check_magnitude(X) -> None:
    values = X.data if sp.issparse(X) else X
    largest = float(np.abs(values).max()) if values.size else 0.0
    if largest > _MAX_ABS_INPUT:
        raise ValueError(
            f"X has values as large as {largest:.3g} in magnitude; the network computes in "
            f"float32 and cannot train or predict on values beyond {_MAX_ABS_INPUT:.0e}. "
            "Standardise X first (e.g. sklearn.preprocessing.StandardScaler)."
        )


def _accepts(factory, name: str) -> bool:
    try:
        return name in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False


def _example_batch(X) -> torch.Tensor:
    rows = X[:2]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    return torch.as_tensor(rows, dtype=torch.float32)


def _fusable(optimizer, network: nn.Module, device) -> bool:
    """Whether ``optimizer`` can run as torch's fused single-kernel update here."""
    return (
        optimizer in _OPTIMIZERS.values()
        and torch.device(device).type in ("cpu", "cuda")
        and all(p.dtype in (torch.float32, torch.float64) for p in network.parameters())
    )
