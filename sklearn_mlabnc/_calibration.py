"""Calibrated per-label probabilities: a shrunk per-label Platt scaling of out-of-fold scores.

``predict_proba`` of a multi-label :class:`~sklearn_mlabnc.MLabNCClassifier` returns, for
each label on its own, an estimate of :math:`P(y_k = 1 \\mid x)`:

.. math:: \\hat p_k(x) = \\sigma(a_k s_k(x) + b_k),

where :math:`s_k` is the label's log-softmax over the label outputs (PAL losses) or its logit
(``loss="bce"``). The pairs :math:`(a_k, b_k)` are fitted by logistic regression on
*out-of-fold* scores: the outputs of the decision rule's fold models on the rows they did not
train on, so the calibration never sees scores of rows the network was fitted to. Each
label's pair is shrunk towards one pair fitted on all labels pooled (an L2 penalty of weight
:data:`SHRINKAGE` on the difference), which keeps a label with one or no positive finite and
close to the pooled map, and lets a frequent label follow its own data.

The choice (against per-label isotonic regression, a shared slope, the log-gap score and
in-sample fitting) was measured on the shared data sets: see the user guide's calibration
page and the benchmarks page.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from ._docstrings import DOCS, Substitution
from ._inference import predict_stream, probabilities
from ._selection import MIN_SAMPLES, OUT_OF_FOLD, out_of_fold

#: Weight of the L2 penalty pulling each label's ``(a_k, b_k)`` towards the pooled pair, in
#: units of samples: a label with many more positives than this follows its own data.
SHRINKAGE = 0.1
#: Name of the ``(n_labels, 2)`` tensor of ``(a_k, b_k)`` in saved model files.
CALIBRATION_TENSOR = "calibration.coef"
#: Where the maps were fitted (``calibration_``).
CALIBRATION_SOURCES = ("out_of_fold", "training")
_NEWTON_STEPS = 50
_TOL = 1e-10


def calibration_scores(logits: torch.Tensor, *, independent: bool, n_labels: int):
    """The score each label's map reads: log-softmax over the label outputs, or the logit.

    The background output (if any) is left out of the softmax, so the score of a label
    depends only on the label outputs; adding a constant to a row's logits changes nothing.
    """
    logits = logits[:, :n_labels].double()
    return logits if independent else torch.log_softmax(logits, dim=1)


def _penalised_loss(A, B, S, Y, lam, centre) -> np.ndarray:
    """Per-label log-loss of ``sigmoid(A S + B)`` plus the L2 pull towards ``centre``."""
    Z = A * S + B
    data = (np.logaddexp(0.0, Z) - Y * Z).sum(0)
    return data + 0.5 * lam * ((A - centre[0]) ** 2 + (B - centre[1]) ** 2)


def _fit_pairs(S, Y, lam: float, centre, start) -> tuple[np.ndarray, np.ndarray]:
    """Per-label ``(a_k, b_k)`` minimising :func:`_penalised_loss`: damped Newton, all labels
    at once (one 2x2 system each), halving a label's step until its loss does not rise."""
    A, B = np.full(S.shape[1], float(start[0])), np.full(S.shape[1], float(start[1]))
    loss = _penalised_loss(A, B, S, Y, lam, centre)
    for _ in range(_NEWTON_STEPS):
        P = expit(A * S + B)
        W, R = P * (1 - P), P - Y
        ga = (R * S).sum(0) + lam * (A - centre[0])
        gb = R.sum(0) + lam * (B - centre[1])
        haa, hab, hbb = (W * S * S).sum(0) + lam, (W * S).sum(0), W.sum(0) + lam
        det = np.maximum(haa * hbb - hab**2, 1e-300)
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        t = np.ones_like(A)
        for _ in range(40):
            new = _penalised_loss(A - t * da, B - t * db, S, Y, lam, centre)
            worse = new > loss + 1e-12 * np.abs(loss)
            if not worse.any():
                break
            t = np.where(worse, 0.5 * t, t)
        A, B, loss = A - t * da, B - t * db, np.minimum(new, loss)
        if max(np.abs(t * da).max(), np.abs(t * db).max()) < _TOL:
            break
    return A, B


class LabelCalibrator:
    """Per-label Platt maps ``sigmoid(a_k s + b_k)`` shrunk towards a pooled map.

    Parameters
    ----------
    shrinkage : float, default=SHRINKAGE
        Weight of the L2 penalty on ``(a_k, b_k) - (a, b)``, the pooled pair.

    Attributes
    ----------
    coef_ : ndarray of shape (n_labels, 2)
        ``(a_k, b_k)`` per label.
    pooled_ : ndarray of shape (2,)
        The pooled pair ``(a, b)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc._calibration import LabelCalibrator
    >>> rng = np.random.default_rng(0)
    >>> S = rng.normal(size=(500, 3))
    >>> Y = (rng.random((500, 3)) < 1 / (1 + np.exp(-2 * S))).astype(int)
    >>> Y[:, 2] = 0  # a label never positive still gets a finite map
    >>> cal = LabelCalibrator().fit(S, Y)
    >>> cal.coef_[:2, 0].round(1)  # the slopes of the two ordinary labels: about 2
    array([2.1, 2. ])
    >>> P = cal.predict(S)
    >>> bool(np.isfinite(P).all() and 0 < P[:, 2].max() < 0.05)
    True
    """

    def __init__(self, shrinkage: float = SHRINKAGE):
        self.shrinkage = shrinkage

    def fit(self, S, Y) -> LabelCalibrator:
        """Fit the maps to scores ``S`` and 0/1 labels ``Y``, both ``(n_samples, n_labels)``."""
        S, Y = np.asarray(S, dtype=np.float64), (np.asarray(Y) > 0).astype(np.float64)
        # The pooled pair starts from the constant predictor (the base rate) and takes a
        # negligible ridge only, so that it exists even when the scores separate the labels.
        rate = np.clip(Y.mean(), 1e-6, 1 - 1e-6)
        start = (0.0, np.log(rate / (1 - rate)))
        pooled = _fit_pairs(S.reshape(-1, 1), Y.reshape(-1, 1), 1e-6, (0.0, 0.0), start)
        self.pooled_ = np.array([pooled[0][0], pooled[1][0]])
        A, B = _fit_pairs(S, Y, float(self.shrinkage), self.pooled_, self.pooled_)
        self.coef_ = np.stack([A, B], axis=1)
        return self

    def predict(self, S) -> np.ndarray:
        """Calibrated probabilities of scores ``S``, shape ``(n_samples, n_labels)``."""
        return expit(self.coef_[:, 0] * np.asarray(S, dtype=np.float64) + self.coef_[:, 1])

    def apply(self, S: torch.Tensor) -> torch.Tensor:
        """:meth:`predict` on a float64 tensor, on its device."""
        coef = torch.as_tensor(self.coef_, dtype=torch.float64, device=S.device)
        return torch.sigmoid(coef[:, 0] * S + coef[:, 1])

    @classmethod
    def from_coef(cls, coef) -> LabelCalibrator:
        """A fitted calibrator from saved ``coef_`` (the pooled pair is not needed to predict)."""
        coef = np.asarray(coef, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(coef).all():
            raise ValueError("The saved calibration maps hold non-finite values.")
        calibrator = cls()
        calibrator.coef_ = coef
        return calibrator


def fit_calibration(estimator, X, Y, fitted: dict, outputs, select: bool) -> dict:
    """The calibration attributes of a multi-label ``estimator`` just fitted on ``X, Y``.

    ``fitted`` is :func:`~sklearn_mlabnc._selection.fit_decision`'s result, whose
    out-of-fold outputs (of the decision rule's short fold models) ``calibration="fast"``
    reuses. ``"full"`` trains three fold models as long as the final one; ``"fast"``
    without reusable outputs the short ones. Without fold models (``partial_fit``, fewer
    than ``MIN_SAMPLES`` rows) the maps are fitted on ``outputs()``, the final network's
    logits and 0/1 labels on its own training rows: in-sample, so over-confident.
    """
    independent = estimator.loss == "bce"
    oof = fitted.pop(OUT_OF_FOLD, None)
    if estimator.calibration == "off":  # as in the fold models, which are never calibrated
        return {}
    if estimator.calibration == "full":
        oof = None  # the decision rule's fold models are shorter than the final model
    if oof is None and select and len(Y) >= MIN_SAMPLES:
        epochs = estimator.max_epochs if estimator.calibration == "full" else None
        oof = out_of_fold(estimator, X, Y, estimator._seed, False, epochs=epochs)
    if oof is not None:
        labels = Y if oof.rows is None else Y[oof.rows]  # a subsample on large data
        logits, source = torch.from_numpy(oof.scores), "out_of_fold"
    else:
        logits, labels = outputs()
        labels, source = labels.cpu().numpy(), "training"
    n_labels = Y.shape[1]
    scores = calibration_scores(logits, independent=independent, n_labels=n_labels)
    calibrator = LabelCalibrator().fit(scores.cpu().numpy(), labels[:, :n_labels])
    return {"_calibrator": calibrator, "calibration_": source}


class ProbabilityMixin:
    """``predict_proba`` (calibrated per-label probabilities) and the PAL label distribution."""

    @Substitution(**DOCS)
    def predict_proba(self, X):
        """Probability of each label on its own (multi-label) or of each class (1-D targets).

        For multi-label targets, entry ``[i, k]`` estimates :math:`P(y_k = 1 \\mid x_i)` for
        every loss: a per-label Platt map of the network's score, fitted in :meth:`fit` on
        out-of-fold outputs (see ``calibration_`` and the user guide's calibration page).
        Rows are not constrained to sum to 1: their sum estimates the number of labels.
        For 1-D targets these are the softmax class probabilities; rows sum to 1.

        :meth:`predict` does not threshold these probabilities: it applies ``decision_``,
        the rule chosen for ``decision_metric`` (with ``loss="bce"`` and the 0.5 cut-off,
        on the uncalibrated sigmoids). ``predict_proba >= 0.5`` is the label set that
        maximises the expected number of correctly predicted entries (Hamming accuracy),
        which may differ from ``predict``'s. For the softmax over the labels that the PAL
        loss trains, see :meth:`predict_label_distribution`.

        {X_parameters}

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels) or (n_samples, n_classes)
            Probabilities in [0, 1].

        Examples
        --------
        {fitted_example}
        >>> proba = clf.predict_proba(X[:2])
        >>> proba.shape, bool(((proba >= 0) & (proba <= 1)).all()), clf.calibration_
        ((2, 3), True, 'out_of_fold')
        """
        check_is_fitted(self, "net_")
        if self._encoder.kind_ != "multilabel":
            return self.predict_label_distribution(X)
        calibrator = getattr(self, "_calibrator", None)
        if calibrator is None and self.calibration == "off":
            raise ValueError(
                "predict_proba needs calibration: this model was fitted with "
                "calibration='off'; fit it with calibration='fast' or 'full', or use "
                "predict_label_distribution(X)."
            )
        if calibrator is None:
            raise ValueError(
                "This model was saved by a version without calibrated probabilities: "
                "predict_label_distribution(X) gives what its predict_proba returned; "
                "fit it again for calibrated per-label probabilities."
            )
        options = {"independent": self._independent_labels, "n_labels": self.n_labels_}

        def compute(logits, features):  # called after the fitted check
            return (calibrator.apply(calibration_scores(logits, **options)),)

        return predict_stream(self, X, compute)[0]

    @Substitution(**DOCS)
    def predict_label_distribution(self, X):
        """The softmax over the labels that the PAL loss trains: one distribution per row.

        Entry ``[i, k]`` is :math:`\\mathrm{softmax}(z_i)_k`, the share of label ``k`` in
        the PAL label distribution (the background output, if any, is left out, so a row sums
        to at most 1). A sample with ``m`` labels ideally gives each about ``1/m``: these are
        not per-label probabilities (see :meth:`predict_proba`). ``log`` of it is
        :meth:`decision_function` for PAL losses. With ``loss="bce"`` it is the softmax of
        the logits, which that loss does not train. For 1-D targets it equals
        :meth:`predict_proba`.

        {X_parameters}

        Returns
        -------
        distribution : ndarray of shape (n_samples, n_labels)
            Non-negative, each row summing to at most 1.

        Examples
        --------
        {fitted_example}
        >>> shares = clf.predict_label_distribution(X[:2])
        >>> shares.shape, bool((shares.sum(axis=1) <= 1 + 1e-6).all())
        ((2, 3), True)
        """

        def compute(logits, features):  # called after the fitted check
            return (probabilities(logits, independent=False, n_labels=self.n_labels_).double(),)

        return predict_stream(self, X, compute)[0]
