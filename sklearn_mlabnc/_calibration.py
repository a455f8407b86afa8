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
SHRINKAGE = 1.0
_NEWTON_STEPS = 50
_TOL = 1e-10


def calibration_scores(logits: torch.Tensor, *, independent: bool, n_labels: int):
    """The score each label's map reads: log-softmax over the label outputs, or the logit.

    The background output (if any) is left out of the softmax, so the score of a label
    depends only on the label outputs; adding a constant to a row's logits changes nothing.
    """
    logits = logits[:, :n_labels].double()
    return logits if independent else torch.log_softmax(logits, dim=1)


def _pooled_pair(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Unpenalised (up to a 1e-6 ridge) Platt pair ``(a, b)`` fitted on all entries pooled."""
    theta = np.array([1.0, 0.0])
    for _ in range(_NEWTON_STEPS):
        p = expit(theta[0] * x + theta[1])
        w, r = p * (1 - p), p - y
        gradient = np.array([r @ x, r.sum()]) + 1e-6 * theta
        hessian = np.array([[w @ (x * x), w @ x], [w @ x, w.sum()]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < _TOL:
            break
    return theta


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
        self.pooled_ = a0, b0 = _pooled_pair(S.ravel(), Y.ravel())
        lam = float(self.shrinkage)
        A, B = np.full(S.shape[1], a0), np.full(S.shape[1], b0)
        for _ in range(_NEWTON_STEPS):  # one 2x2 Newton system per label, all at once
            P = expit(A * S + B)
            W, R = P * (1 - P), P - Y
            ga, gb = (R * S).sum(0) + lam * (A - a0), R.sum(0) + lam * (B - b0)
            haa, hab, hbb = (W * S * S).sum(0) + lam, (W * S).sum(0), W.sum(0) + lam
            det = haa * hbb - hab**2
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
            A, B = A - da, B - db
            if max(np.abs(da).max(), np.abs(db).max()) < _TOL:
                break
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
        calibrator = cls()
        calibrator.coef_ = np.asarray(coef, dtype=np.float64).reshape(-1, 2)
        return calibrator


def fit_calibration(estimator, X, Y, fitted: dict, outputs, select: bool) -> dict:
    """The calibration attributes of a multi-label ``estimator`` just fitted on ``X, Y``.

    ``fitted`` is :func:`~sklearn_mlabnc._selection.fit_decision`'s result: its out-of-fold
    outputs are used when the decision rule's fold models ran. Otherwise (a fixed decision
    rule) the same fold models are trained here, on at least ``MIN_SAMPLES`` rows. Without
    them (``partial_fit``, or fewer rows) the maps are fitted on ``outputs()``, the final
    network's logits and 0/1 labels on its own training rows: in-sample, so optimistic.
    """
    independent = estimator.loss == "bce"
    oof = fitted.pop(OUT_OF_FOLD, None)
    if oof is None and select and len(Y) >= MIN_SAMPLES:
        oof = out_of_fold(estimator, X, Y, estimator._seed, with_prototypes=False)
    if oof is not None:
        logits, labels, source = torch.from_numpy(oof.scores), Y, "out_of_fold"
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
