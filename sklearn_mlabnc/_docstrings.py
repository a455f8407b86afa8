"""Docstring text shared by the estimators' docstrings, filled in by substitution.

Parameter descriptions used by several docstrings are written once here and inserted with
:class:`~sklearn_mlabnc.collapse._docstrings.Substitution` (``{name}`` placeholder lines),
in the manner of imbalanced-learn's ``Substitution`` decorator. The classifier's parameter
and attribute lists live here too, so that ``_classifier.py`` holds code.
"""

from __future__ import annotations

from .collapse._docstrings import Substitution

__all__ = ["DOCS", "Substitution"]

X_DOC = """\
X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
    Inputs; sparse matrices are densified one batch at a time."""

Y_DOC = """\
y : array-like of shape (n_samples,) or (n_samples, n_labels)
    Class labels, or a multi-label 0/1 indicator (dense, sparse, list of rows or
    DataFrame)."""

CLASSIFIER_PARAMETERS_DOC = """\
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
    Show a progress bar over epochs when > 0."""

CLASSIFIER_ATTRIBUTES_DOC = """\
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
    The decision rule in use."""

FITTED_EXAMPLE_DOC = """\
>>> import numpy as np
>>> from sklearn_mlabnc import MLabNCClassifier
>>> X = np.random.default_rng(0).normal(size=(40, 4))
>>> Y = (X[:, :3] > 0).astype(int)  # 3 labels
>>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0).fit(X, Y)"""

#: Placeholder name -> text, for ``@Substitution(**DOCS)``.
DOCS = {
    "X": X_DOC,
    "X_parameters": "Parameters\n----------\n" + X_DOC,
    "fitted_example": FITTED_EXAMPLE_DOC,
    "y": Y_DOC,
    "parameters": CLASSIFIER_PARAMETERS_DOC,
    "attributes": CLASSIFIER_ATTRIBUTES_DOC,
}
