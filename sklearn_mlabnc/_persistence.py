"""Saving and loading fitted MLabNCClassifier models without pickle.

One ``.safetensors`` file holds the network's tensors and the decision rule's arrays; its
header metadata holds the estimator's parameters and fitted attributes as JSON. Loading
executes no code from the file, so a model from an untrusted source is safe to open.
Optimizer state is not saved: a loaded model predicts, and ``warm_start`` training restarts
the optimizer.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch

from . import backbones

FORMAT = "sklearn_mlabnc.MLabNCClassifier"
FORMAT_VERSION = 1
_NETWORK = "network."
_PROTOTYPES = "prototypes."


def save_model(estimator, path) -> Path:
    """Write a fitted :class:`~sklearn_mlabnc.MLabNCClassifier` to a safetensors file.

    Parameters
    ----------
    estimator : MLabNCClassifier
        A fitted estimator whose ``module`` is ``None``, a backbone class from
        :mod:`sklearn_mlabnc.backbones`, or a ``functools.partial`` of one with JSON-friendly
        keyword arguments (other modules cannot be rebuilt without running code: pickle
        those).
    path : str or path-like
        Destination file (conventionally ``*.safetensors``).

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn_mlabnc import MLabNCClassifier, load_model
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> Y = (X[:, :2] > 0).astype(int)
    >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(X, Y)
    >>> path = clf.save(tempfile.mkdtemp() + "/model.safetensors")
    >>> bool((load_model(path).predict(X) == clf.predict(X)).all())
    True
    """
    from safetensors.torch import save_file
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "net_")
    params = estimator.get_params(deep=False)
    params["module"] = _module_spec(params["module"])
    if params["callbacks"]:
        raise ValueError(
            "Models with extra skorch callbacks cannot be saved without pickle; set "
            "callbacks=None before saving or use pickle/joblib."
        )
    params["device"] = str(params["device"])
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    encoder = estimator._encoder
    fitted = {
        "kind": encoder.kind_,
        "classes": None if encoder.kind_ == "multilabel" else encoder.classes_.tolist(),
        "n_labels": estimator.n_labels_,
        "n_outputs": int(estimator.net_.module_.head.bias.shape[0]),
        "n_features_in": estimator.n_features_in_,
        "feature_names_in": getattr(estimator, "feature_names_in_", np.array([])).tolist(),
        "has_background": estimator.has_background_,
        "multiplicities": estimator.multiplicities_.tolist(),
        "decision": estimator.decision_,
        "threshold": getattr(estimator, "threshold_", None),
        "seed": estimator._seed,
        "n_iter": estimator.n_iter_,
        "history": _jsonable(estimator.history_),
    }
    tensors = {
        _NETWORK + name: value.detach().cpu().contiguous()
        for name, value in estimator.net_.module_.state_dict().items()
    }
    prototypes = getattr(estimator, "_prototypes", None)
    if prototypes is not None:
        fitted["scales"] = {str(m): c for m, c in prototypes.scales_.items()}
        tensors[_PROTOTYPES + "atoms"] = torch.as_tensor(prototypes.atoms_)
        tensors[_PROTOTYPES + "origin"] = torch.as_tensor(prototypes.origin_)
        if prototypes.empty_mean_ is not None:
            tensors[_PROTOTYPES + "empty_mean"] = torch.as_tensor(prototypes.empty_mean_)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "params": json.dumps(params),
        "fitted": json.dumps(fitted),
    }
    path = Path(path)
    save_file(tensors, str(path), metadata=metadata)
    return path


def load_model(path, *, device=None):
    """Load a model written by :meth:`MLabNCClassifier.save` (no pickle, no code execution).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    device : str, optional
        Where to put the network; defaults to the saved ``device`` parameter when it is
        available here, else the CPU (a model trained on a GPU loads on a CPU-only machine).

    Returns
    -------
    MLabNCClassifier
        The fitted estimator.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn_mlabnc import MLabNCClassifier, load_model
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=2).fit(X, X[:, 0] > 0)
    >>> load_model(clf.save(tempfile.mkdtemp() + "/m.safetensors")).classes_
    array([False,  True])
    """
    from safetensors import SafetensorError, safe_open

    from ._classifier import MLabNCClassifier, _resolve_device
    from ._decision import TagwisePrototypes
    from ._targets import TargetEncoder

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {path}.")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable sklearn_mlabnc model file (corrupted or truncated?): {exc}"
        ) from exc
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} was not written by MLabNCClassifier.save().")
    version = int(metadata.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses model format {version}, newer than this library's "
            f"{FORMAT_VERSION}; upgrade sklearn_mlabnc to load it."
        )
    try:
        params = json.loads(metadata["params"])
        fitted = json.loads(metadata["fitted"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} has damaged metadata: {exc}") from exc
    params["module"] = _module_from_spec(params["module"])
    if device is None:
        saved = params["device"]
        device = saved if saved == "auto" or not saved.startswith("cuda") else "auto"
    estimator = MLabNCClassifier(**params)
    estimator._encoder = encoder = TargetEncoder()
    encoder.kind_ = fitted["kind"]
    encoder.n_labels_ = fitted["n_labels"]
    if fitted["kind"] == "multilabel":
        encoder.classes_ = [np.array([0, 1])] * fitted["n_labels"]
    else:
        encoder.classes_ = np.asarray(fitted["classes"])
    estimator.classes_ = encoder.classes_
    estimator.n_labels_ = fitted["n_labels"]
    estimator.n_features_in_ = fitted["n_features_in"]
    if fitted["feature_names_in"]:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
    estimator.has_background_ = fitted["has_background"]
    estimator.multiplicities_ = np.asarray(fitted["multiplicities"])
    estimator.decision_ = fitted["decision"]
    if fitted["threshold"] is not None:
        estimator.threshold_ = fitted["threshold"]
    estimator._seed = fitted["seed"]
    estimator.n_iter_ = fitted["n_iter"]
    estimator.history_ = fitted["history"]
    placeholder = np.zeros((2, fitted["n_features_in"]), dtype=np.float32)
    estimator.net_ = estimator._build_net(
        placeholder, fitted["n_outputs"], _resolve_device(device)
    )
    state = {k[len(_NETWORK) :]: v for k, v in tensors.items() if k.startswith(_NETWORK)}
    try:
        estimator.net_.module_.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path}: the saved tensors do not fit the network: {exc}") from exc
    if "scales" in fitted:
        prototypes = TagwisePrototypes()
        prototypes.scales_ = {int(m): c for m, c in fitted["scales"].items()}
        prototypes.atoms_ = tensors[_PROTOTYPES + "atoms"].numpy()
        prototypes.origin_ = tensors[_PROTOTYPES + "origin"].numpy()
        empty = tensors.get(_PROTOTYPES + "empty_mean")
        prototypes.empty_mean_ = None if empty is None else empty.numpy()
        estimator._prototypes = prototypes
    return estimator


def _module_spec(module):
    if module is None:
        return None
    target, kwargs = module, {}
    if isinstance(module, functools.partial) and not module.args:
        target, kwargs = module.func, dict(module.keywords)
    name = getattr(target, "__name__", None)
    if name not in backbones.__all__ or getattr(backbones, name) is not target:
        raise ValueError(
            "save() can only store backbones from sklearn_mlabnc.backbones (a class or a "
            f"functools.partial of one); got {module!r}. Use pickle or joblib for custom "
            "modules."
        )
    try:
        json.dumps(kwargs)
    except TypeError as exc:
        raise ValueError(f"The backbone's keyword arguments are not JSON-friendly: {exc}") from exc
    return {"backbone": name, "kwargs": kwargs}


def _module_from_spec(spec):
    if spec is None:
        return None
    if spec.get("backbone") not in backbones.__all__:
        raise ValueError(f"Unknown backbone {spec.get('backbone')!r} in the saved model.")
    cls = getattr(backbones, spec["backbone"])
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["kwargs"].items()}
    return functools.partial(cls, **kwargs) if kwargs else cls


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
