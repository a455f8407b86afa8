"""Targets: user ``y`` (1-D classes or a multi-label indicator) <-> a 0/1 indicator matrix."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target


class TargetEncoder:
    """Turn ``y`` into an ``(n, K)`` float32 indicator and predictions back into ``y``'s form.

    ``kind_`` is ``"multilabel"`` for 2-D 0/1 targets (dense, sparse, lists of rows, pandas
    DataFrames) and ``"multiclass"`` for 1-D class labels (binary included), for which the
    pick-all-label loss is ordinary softmax cross-entropy.
    """

    def fit_transform(self, y, classes=None) -> np.ndarray:
        """Learn the label space from ``y`` (or ``classes``, for 1-D ``y``); encode ``y``."""
        if classes is not None and np.ndim(y) == 1:
            self.fit_transform(np.asarray(classes))  # the full label space
            return self.transform(y)
        y = _as_array(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=5,  # the caller of fit, past _fit and fit_context
            )
            y = y.ravel()
        if y.ndim == 2:
            self.kind_ = "multilabel"
            indicator = _check_indicator(y)
            self.n_labels_ = indicator.shape[1]
            self.classes_ = [np.array([0, 1])] * self.n_labels_
            never = np.flatnonzero(indicator.sum(axis=0) == 0)
            if never.size:
                warnings.warn(
                    f"Label(s) {never.tolist()} are never positive in the training targets; "
                    "the model cannot learn to predict them. Drop those columns or add "
                    "examples if they matter.",
                    UserWarning,
                    stacklevel=5,  # the caller of fit, past _fit and fit_context
                )
            return indicator
        if y.ndim != 1:
            raise ValueError(
                f"y must be 1-D class labels or a 2-D indicator; got shape {y.shape}."
            )
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. MLabNCClassifier needs class labels "
                "(1-D) or a multi-label 0/1 indicator matrix (2-D)."
            )
        self.kind_ = "multiclass"
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "MLabNCClassifier needs samples of at least 2 classes in the data; got 1 class "
                f"({self.classes_[0]!r})."
            )
        self.n_labels_ = len(self.classes_)
        return np.eye(self.n_labels_, dtype=np.float32)[codes]

    def transform(self, y) -> np.ndarray:
        """Indicator for new targets, with the classes seen in :meth:`fit_transform`."""
        y = _as_array(y)
        if self.kind_ == "multilabel":
            indicator = _check_indicator(y if y.ndim == 2 else y.reshape(len(y), -1))
            if indicator.shape[1] != self.n_labels_:
                raise ValueError(
                    f"y has {indicator.shape[1]} labels but the model was fitted with "
                    f"{self.n_labels_}."
                )
            return indicator
        y = y.ravel()
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains classes not seen during the first fit: {unknown.tolist()}. "
                f"Known classes: {self.classes_.tolist()}."
            )
        return np.eye(self.n_labels_, dtype=np.float32)[np.searchsorted(self.classes_, y)]

    def inverse_transform(self, indicator: np.ndarray) -> np.ndarray:
        """Predictions in ``y``'s form: an int indicator, or class labels (argmax)."""
        if self.kind_ == "multilabel":
            return indicator.astype(np.int64)
        return self.classes_[np.argmax(indicator, axis=1)]

    def to_dict(self) -> dict:
        """The fitted encoder as JSON-friendly values (see :meth:`from_dict`)."""
        multilabel = self.kind_ == "multilabel"
        return {
            "kind": self.kind_,
            "n_labels": int(self.n_labels_),
            "classes": None if multilabel else self.classes_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict) -> TargetEncoder:
        """The encoder that :meth:`to_dict` described."""
        encoder = cls()
        encoder.kind_ = state["kind"]
        encoder.n_labels_ = int(state["n_labels"])
        if encoder.kind_ == "multilabel":
            encoder.classes_ = [np.array([0, 1])] * encoder.n_labels_
        else:
            encoder.classes_ = np.asarray(state["classes"])
        return encoder


def training_targets(X, indicator: np.ndarray, pal: bool, policy: str, has_background: bool):
    """``X`` and the network's training targets: checked, empty rows handled, background added.

    ``pal`` says the pick-all-label loss is used on multi-label targets, where rows with no
    positive label need the ``empty_label_sets`` ``policy`` (see :func:`drop_empty_sets`).
    """
    if indicator.shape[0] != X.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} samples but y has {indicator.shape[0]}; they must match."
        )
    if pal:
        X, indicator = drop_empty_sets(X, indicator, policy, has_background)
    return X, with_background(indicator) if has_background else indicator


def needs_background(indicator: np.ndarray, kind: str, loss: str, policy: str) -> bool:
    """Whether a PAL model needs a "no label" output: empty rows under the "background" policy."""
    if kind != "multilabel" or loss == "bce":  # BCE handles empty rows itself
        return False
    return policy == "background" and bool((indicator.sum(axis=1) == 0).any())


def drop_empty_sets(X, indicator: np.ndarray, policy: str, has_background: bool):
    """``X`` and ``indicator`` ready for PAL training under the ``empty_label_sets`` policy.

    Rows with no positive label are kept when a background output predicts them, dropped
    with a warning under ``"ignore"``, and refused otherwise with an error naming the options.
    """
    empty = indicator.sum(axis=1) == 0
    if has_background or not empty.any():
        return X, indicator
    if policy == "error":
        raise ValueError(
            f"{int(empty.sum())} rows of y have no positive label; the pick-all-label loss "
            "is undefined on them. Use empty_label_sets='background' (predict the empty set "
            "through an extra output) or 'ignore' (drop them), or loss='bce'."
        )
    if policy == "background":  # not seen in the first fit
        raise ValueError(
            "This batch has rows with no positive label, but the first fit had none, so "
            "the model has no background output. Include such rows in the first call or "
            "use empty_label_sets='ignore'."
        )
    warnings.warn(
        f"Dropping {int(empty.sum())} rows of y with no positive label "
        "(empty_label_sets='ignore').",
        UserWarning,
        stacklevel=6,
    )
    if empty.all():
        raise ValueError("Every row of y is empty; nothing to train on.")
    return X[~empty], indicator[~empty]


def with_background(indicator: np.ndarray) -> np.ndarray:
    """The indicator with a last "no label" column, 1 on rows with no positive label."""
    background = (indicator.sum(axis=1, keepdims=True) == 0).astype(np.float32)
    return np.hstack([indicator, background])


def _as_array(y) -> np.ndarray:
    if sp.issparse(y):
        return y.toarray()
    if hasattr(y, "to_numpy"):  # pandas DataFrame / Series
        return y.to_numpy()
    return np.asarray(y)


def _check_indicator(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind not in "biuf":
        raise ValueError(
            f"A 2-D y must be a numeric 0/1 indicator matrix; got dtype {y.dtype}. Binarise "
            "label lists with sklearn.preprocessing.MultiLabelBinarizer."
        )
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        bad = values[~np.isin(values, (0, 1))][:5]
        raise ValueError(
            f"A 2-D y must be a multi-label indicator with values 0 and 1 only; found "
            f"{bad.tolist()}. Binarise it (e.g. y > 0) or pass 1-D class labels."
        )
    return y.astype(np.float32)
