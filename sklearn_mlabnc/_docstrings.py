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
    with ``hidden_layer_sizes``. For features from a plain linear layer (any sign, as in
    the paper reproduction) pass
    ``functools.partial(MLP, hidden_layer_sizes=(512, 512), feature_layer="linear")``.
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
    Weight :math:`\\lambda` of the per-sample penalty
    :math:`\\lambda \\, \\mathrm{mean}_i \\|h_i\\|^2` on the penultimate features, so its
    strength does not depend on ``batch_size``; the unconstrained feature model's
    :math:`\\lambda_H = 2 \\lambda / N` for ``N`` training samples (``weight_decay`` is its
    :math:`\\lambda_W`). The paper reproduction uses 0.03.
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
decision : {"auto", "threshold", "per_label", "cardinality", "prototype"}, default="auto"
    How scores become label sets (multi-label targets only; see the user guide's
    decision-rules page). ``"auto"`` chooses from the data: three short models (a quarter
    of ``max_epochs``, at least 5) trained on multi-label-stratified folds give
    out-of-fold scores, on which ``"cardinality"``, ``"threshold"``, ``"per_label"`` and,
    with at most 20 labels, ``"prototype"`` are scored by ``decision_metric`` (tuned cuts
    cross-fitted across the folds); for ``loss="bce"`` the candidates are the sigmoid
    cut-off 0.5 (or ``threshold``), a tuned cut-off and per-label cut-offs. The winner is
    fitted for the final network, trained on all the data; ``decision_scores_`` shows the
    scores. This makes ``fit`` 1.5-2x slower; with fewer than 30 samples, and in
    :meth:`partial_fit`, ``"auto"`` is ``"cardinality"`` (PAL) or ``sigmoid >= 0.5``
    (BCE). ``"per_label"``: one threshold per label, tuned on the fold models'
    out-of-fold scores (the same cost as ``"auto"``).
decision_metric : str, default="f1_micro"
    What tuned thresholds and ``"auto"`` optimise: ``"f1_micro"``, ``"f1_samples"``,
    ``"f1_macro"``, ``"hamming"`` (the fewest wrong labels) or ``"jaccard_samples"``.
threshold : float in (0, 1], default=None
    Fraction ``t`` of the ``"threshold"`` rule (label k on when
    :math:`p_k \\ge t \\max_j p_j`; for ``loss="bce"`` the sigmoid cut-off). ``None`` tunes
    it for ``decision_metric`` on the training data (PAL) or uses 0.5 (BCE).
calibration : {"fast", "full", "off"}, default="fast"
    How :meth:`predict_proba` learns per-label probabilities (multi-label targets; see the
    user guide's calibration page): per-label Platt maps fitted on out-of-fold outputs of
    three models trained on multi-label-stratified folds. ``"fast"`` reuses the short fold
    models of ``decision="auto"``/``"per_label"`` at no extra training (and trains them, a
    quarter of the epochs each, for a fixed rule); ``"full"`` trains them with all
    ``max_epochs``, like the final model: better calibrated (lower log-loss on every
    benchmark set) for about two more fits; ``"off"`` fits nothing
    (``predict_proba`` then raises; :meth:`predict_label_distribution` still works). With
    fewer than 30 samples and in ``partial_fit`` the maps are fitted in-sample.
empty_label_sets : {"background", "ignore", "error"}, default="background"
    Handling of multi-label rows with no positive label, on which PAL is undefined:
    an extra internal "no label" output whose win predicts the empty set, dropping those
    rows with a warning, or an error. Unused for ``loss="bce"``, which handles them.
device : str or torch.device, default="auto"
    ``"auto"`` picks CUDA when available, else the CPU.
precision : {"auto", "float32", "bfloat16"}, default="auto"
    Precision of training: ``"bfloat16"`` runs training forward passes under bfloat16
    autocast (parameters, optimizer and losses stay in float32); ``"auto"`` picks it where
    the device computes bfloat16 natively (CUDA compute capability >= 8.0; CPUs with AMX,
    AVX-512 BF16 or Arm BF16, see :func:`~sklearn_mlabnc.native_bfloat16`) and float32
    elsewhere. Prediction, ``transform`` and collapse measurements always run in float32,
    so a model predicts the same on every machine whatever it was trained in.
compile : bool, default=False
    Compile the network with ``torch.compile`` (in place, so parameter names and saved
    models are unchanged). The first epoch pays a compilation of seconds to a minute;
    it pays off on GPUs, where it fuses the small kernels of a step. A pickled or
    saved model is loaded uncompiled.
strategy : {"single", "ddp"}, default="single"
    How :meth:`fit` trains. ``"single"``: in this process. ``"ddp"``: data-parallel in
    every process of a ``torch.distributed`` process group (started by ``torchrun``,
    ``accelerate launch`` or :func:`~sklearn_mlabnc.distributed.fit_on_dask`; joined
    from the launcher's environment variables when not yet initialised), each process
    calling ``fit`` with the same data: the network is wrapped in
    ``DistributedDataParallel``, each process trains on its share of every batch and
    the seed comes from rank 0, so every process ends with the same model, equal to a
    one-process fit up to rounding for backbones without BatchNorm or dropout (see the
    user guide's scaling page). ``batch_size`` stays the size of the whole batch;
    ``device="auto"`` gives each process its own GPU.
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
    0: silent. 1: one line per epoch on standard output, with the training loss, the
    validation loss and scores when there are any (``early_stopping``, scoring
    callbacks) and the epoch's seconds; ``*`` marks the best value so far. On a terminal
    a live bar over the epochs shows below the lines while the fit runs; in a file or a
    pipe only the lines are written. 2: the lines also give the learning rate, the
    features' mean squared norm and the training collapse metrics of
    ``collapse_every``."""

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
    or a given ``threshold``); for ``loss="bce"`` the sigmoid cut-off.
label_thresholds_ : ndarray of shape (n_labels,)
    The per-label fractions of the ``"per_label"`` rule (label k on when
    :math:`p_k \\ge t_k \\max_j p_j`; for ``loss="bce"`` when its sigmoid is
    :math:`\\ge t_k`); a fraction above 1 switches the label off.
decision_ : str
    The decision rule in use: ``"threshold"``, ``"per_label"``, ``"cardinality"`` or
    ``"prototype"`` (what ``"auto"`` chose).
calibration_ : {"out_of_fold", "training"}
    Multi-label targets: where the per-label probability maps of :meth:`predict_proba`
    were fitted: on out-of-fold outputs of the decision rule's fold models (``fit`` on at
    least 30 samples), or in-sample on the final network's training outputs
    (``partial_fit``, fewer samples), which makes the probabilities over-confident.
decision_scores_ : dict of str to float
    With ``decision="auto"`` (and at least 30 samples): each candidate rule's
    cross-fitted out-of-fold score under ``decision_metric`` (higher is better;
    ``"hamming"`` scores 1 - Hamming loss), e.g. ``{"cardinality": 0.61, "threshold":
    0.64, "per_label": 0.66, "prototype": 0.60}``. ``"tuned_threshold"`` (BCE) is a
    tuned sigmoid cut-off, chosen as ``decision_="threshold"``. Ties go to the rule with
    fewer tuned parameters.
precision_ : {"float32", "bfloat16"}
    The training precision ``precision`` resolved to on this machine (for a loaded model:
    on the loading machine, for further ``warm_start`` or ``partial_fit`` training)."""

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
