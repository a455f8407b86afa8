"""Loading saved models: :func:`load_model` rebuilds a fitted MLabNCClassifier from a file."""

from __future__ import annotations

import functools
import os

import torch
from sklearn.utils._param_validation import validate_params

from ._classifier import MLabNCClassifier
from ._model_checks import check_saved_model
from ._persistence import read_model


@validate_params(
    {"path": [str, os.PathLike], "device": [None, str, torch.device]},
    prefer_skip_nested_validation=True,
)
def load_model(path, *, device=None) -> MLabNCClassifier:
    """Load a model written by :meth:`MLabNCClassifier.save` (no pickle, no code execution).

    Parameters
    ----------
    path : str or path-like
        A file written by :meth:`MLabNCClassifier.save`.
    device : str or torch.device, default=None
        Where to put the network; defaults to the saved ``device`` parameter when it is
        available here, else the CPU (a model trained on a GPU loads on a CPU-only machine).

    Returns
    -------
    MLabNCClassifier
        The fitted estimator.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a readable model, or its metadata disagrees with itself or with
        the stored tensors (the message names the field). Every size is checked against the
        tensors' shapes in the file header before any array or network is built, so a
        hostile file cannot make loading allocate more than its own size (plus a trial
        forward pass of at most 16 times the file size, or 64 MiB, for image backbones).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn_mlabnc import MLabNCClassifier, load_model
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=2).fit(X, X[:, 0] > 0)
    >>> load_model(clf.save(tempfile.mkdtemp() + "/m.safetensors")).classes_
    array([False,  True])
    """
    documents, tensors = read_model(path, check=functools.partial(_check, path))
    try:
        return MLabNCClassifier._from_fitted_state(documents, tensors, device)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} has damaged metadata: {exc!r} is missing or wrong.") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _check(path, documents: dict, header: dict) -> None:
    """:func:`check_saved_model` with the file's path and size in its messages and bound."""
    if not {"params", "fitted"} <= set(documents):
        raise ValueError(f"{path} has damaged metadata: 'params' or 'fitted' is missing.")
    try:
        check_saved_model(documents, header, os.path.getsize(path))
    except ValueError as exc:
        raise ValueError(f"{path} has damaged metadata: {exc}") from exc
