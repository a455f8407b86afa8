"""Checks of a saved model's metadata against its tensors' shapes, before anything is allocated.

:func:`check_saved_model` sees the JSON documents and the tensor header of a model file (names,
dtypes, shapes: what safetensors reads without loading data). It checks every field's type
and range, derives every shape the metadata implies (the network's, by building it on
PyTorch's ``meta`` device, which allocates no memory; the prototypes' and the thresholds')
and compares them with the stored tensors. Only then does the loader build the model, so the
sizes it allocates are those of the tensors the file really holds.
"""

from __future__ import annotations

import inspect
import math
import numbers

import torch
from sklearn.utils._param_validation import validate_parameter_constraints

from . import backbones
from ._calibration import CALIBRATION_SOURCES, CALIBRATION_TENSOR
from ._classifier import MLabNCClassifier
from ._network import MLabNCNetwork
from ._persistence import NETWORK_PREFIX, PROTOTYPES_PREFIX
from ._training import make_backbone, module_from_spec

#: Largest size any field may give (a torch tensor dimension is an int64, but no real model
#: has a layer, an input or an output this wide).
MAX_SIZE = 2**31 - 1
#: The trial forward pass of a backbone given as ``module`` may allocate at most this many
#: times the file's size, or DRY_RUN_SLACK bytes, whichever is larger.
DRY_RUN_FACTOR = 16
DRY_RUN_SLACK = 64 * 2**20
_RULES = ("threshold", "cardinality", "prototype", "per_label")
_KINDS = ("multilabel", "multiclass")
_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.bool: "BOOL",
}
_FLOATING = ("F16", "BF16", "F32", "F64")


def check_saved_model(documents: dict, header: dict, file_size: int) -> None:
    """Refuse (``ValueError`` naming the field) metadata that disagrees with itself or the tensors.

    ``header`` maps each stored tensor's name to its ``(dtype, shape)``; ``file_size`` bounds
    what a trial forward pass may allocate.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc import MLabNCClassifier
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> clf = MLabNCClassifier(hidden_layer_sizes=(8,), max_epochs=2).fit(X, X[:, 0] > 0)
    >>> from sklearn_mlabnc._persistence import jsonable
    >>> documents, tensors = clf._fitted_state()
    >>> documents = jsonable(documents)  # as the file stores it
    >>> header = {k: ("F32" if v.is_floating_point() else "I64", tuple(v.shape))
    ...           for k, v in tensors.items()}
    >>> check_saved_model(documents, header, 10_000)
    >>> documents["fitted"]["n_features_in"] = 10**11
    >>> check_saved_model(documents, header, 10_000)
    Traceback (most recent call last):
    ...
    ValueError: fitted.n_features_in must be an int in [1, 2147483647]; got 100000000000.
    """
    params, fitted = (_mapping(documents.get(key), key) for key in ("params", "fitted"))
    params = _checked_params(params, len(header))
    n_labels = _check_fitted(fitted)
    features = _check_network(params, fitted, header, file_size)
    _check_prototypes(fitted, header, n_labels, features)
    _check_calibration(fitted, header, n_labels)
    unexpected = [
        name
        for name in header
        if not name.startswith((NETWORK_PREFIX, PROTOTYPES_PREFIX)) and name != CALIBRATION_TENSOR
    ]
    if unexpected:
        raise ValueError(f"The file holds tensors no model has: {unexpected[:5]}.")


# ----------------------------------------------------------------- field checks
def _mapping(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a JSON object; got {type(value).__name__}.")
    return value


def _size(value, field: str, low: int = 1, high: int = MAX_SIZE) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{field} must be an int in [{low}, {high}]; got {value!r:.80}.")
    return value


def _number(value, field: str, low: float = -math.inf, high: float = math.inf) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{field} must be a finite number in [{low}, {high}]; got {value!r:.80}.")
    return float(value)


def _list(value, field: str, length: int | None = None, max_length: int = MAX_SIZE) -> list:
    if not isinstance(value, (list, tuple)):  # tuple: a default parameter value
        raise ValueError(f"{field} must be a JSON list; got {type(value).__name__}.")
    if (length is not None and len(value) != length) or len(value) > max_length:
        expected = f"{length}" if length is not None else f"at most {max_length}"
        raise ValueError(f"{field} must have {expected} entries; got {len(value)}.")
    return value


def _checked_params(params: dict, n_tensors: int) -> dict:
    """The estimator parameters the file describes, every one type- and range-checked."""
    defaults = MLabNCClassifier().get_params(deep=False)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"params has unknown keys {unknown[:5]}; was it written by a fork?")
    params = {**defaults, **params}  # missing keys: the defaults, as the estimator takes them
    if params["callbacks"] is not None:
        raise ValueError("params.callbacks must be null: saved models hold no callbacks.")
    # Each layer holds at least one stored tensor, which bounds the number of layers.
    sizes = _list(params["hidden_layer_sizes"], "params.hidden_layer_sizes", max_length=n_tensors)
    for i, width in enumerate(sizes):
        _size(width, f"params.hidden_layer_sizes[{i}]")
    if isinstance(params["feature_dim"], int):
        _size(params["feature_dim"], "params.feature_dim")
    module = _checked_module(params["module"], n_tensors)
    for name in ("optimizer", "device"):
        if not isinstance(params[name], str):
            raise ValueError(f"params.{name} must be a string; got {params[name]!r:.80}.")
    if params["device"] != "auto":
        try:
            torch.device(params["device"])
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(f"params.device is not a device: {params['device']!r:.80}.") from exc
    params = {**params, "module": module}
    validate_parameter_constraints(
        MLabNCClassifier._parameter_constraints, params, caller_name="the saved model's params"
    )
    return params


def _checked_module(spec, n_tensors: int):
    """The ``module`` parameter a saved backbone description rebuilds, its arguments checked."""
    if spec is None:
        return None
    spec = _mapping(spec, "params.module")
    if set(spec) != {"backbone", "kwargs"} or spec["backbone"] not in backbones.__all__:
        raise ValueError(
            "params.module must be {'backbone': one of "
            f"{backbones.__all__}, 'kwargs': {{...}}}}; got {spec!r:.120}."
        )
    kwargs = _mapping(spec["kwargs"], "params.module.kwargs")
    accepted = set(inspect.signature(getattr(backbones, spec["backbone"])).parameters)
    unknown = sorted(set(kwargs) - (accepted - {"n_inputs"}))  # n_inputs: n_features_in
    if unknown:
        raise ValueError(f"params.module.kwargs has unknown keys {unknown[:5]}.")
    for key, value in kwargs.items():
        field = f"params.module.kwargs.{key}"
        values = _list(value, field, max_length=n_tensors) if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool) or item is None or isinstance(item, str):
                continue
            if isinstance(item, int):
                _size(item, field, low=0)
            else:
                _number(item, field)
    return module_from_spec(spec)


def _check_fitted(fitted: dict) -> int:
    """Types, ranges and mutual agreement of the fitted attributes; the number of labels."""
    n_features = _size(fitted.get("n_features_in"), "fitted.n_features_in")
    n_outputs = _size(fitted.get("n_outputs"), "fitted.n_outputs")
    n_labels = _size(fitted.get("n_labels"), "fitted.n_labels", high=n_outputs)
    background = fitted.get("has_background")
    if not isinstance(background, bool) or n_outputs != n_labels + background:
        raise ValueError(
            f"fitted.n_outputs ({n_outputs}) must be fitted.n_labels ({n_labels}) plus one "
            f"for a background output (fitted.has_background={background!r:.20})."
        )
    kind = fitted.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"fitted.kind must be one of {_KINDS}; got {kind!r:.80}.")
    if kind == "multiclass":
        classes = _list(fitted.get("classes"), "fitted.classes", length=n_labels)
        if not all(isinstance(c, (str, int, float, bool)) for c in classes):
            raise ValueError("fitted.classes must hold strings or numbers.")
    names = fitted.get("feature_names_in")
    if names is not None and names != []:
        names = _list(names, "fitted.feature_names_in", length=n_features)
        if not all(isinstance(name, str) for name in names):
            raise ValueError("fitted.feature_names_in must hold strings.")
    decision = fitted.get("decision")
    if decision not in _RULES:
        raise ValueError(f"fitted.decision must be one of {_RULES}; got {decision!r:.80}.")
    multiplicities = _list(
        fitted.get("multiplicities"), "fitted.multiplicities", max_length=n_labels + 1
    )
    for m in multiplicities:
        _size(m, "fitted.multiplicities[...]", low=0, high=n_labels)
    if not multiplicities:
        raise ValueError("fitted.multiplicities must not be empty.")
    if fitted.get("threshold") is not None or decision == "threshold":
        _number(fitted.get("threshold"), "fitted.threshold", 0.0, 1.0)
    if fitted.get("label_thresholds") is not None or decision == "per_label":
        cuts = _list(fitted.get("label_thresholds"), "fitted.label_thresholds", length=n_labels)
        for cut in cuts:
            _number(cut, "fitted.label_thresholds[...]", 0.0, 1.0)
    if fitted.get("decision_scores") is not None:
        for rule, score in _mapping(fitted["decision_scores"], "fitted.decision_scores").items():
            _number(score, f"fitted.decision_scores.{rule}")
    _size(fitted.get("seed"), "fitted.seed", low=0, high=2**63 - 1)  # seeds the rebuilt net
    if fitted.get("n_iter") is not None:
        _size(fitted["n_iter"], "fitted.n_iter", low=0, high=2**63 - 1)
    if fitted.get("history") is not None:
        for row in _list(fitted["history"], "fitted.history"):
            _mapping(row, "fitted.history[...]")
    if decision == "prototype" and "scales" not in fitted:
        raise ValueError("fitted.decision is 'prototype' but fitted.scales is missing.")
    return n_labels


# ----------------------------------------------------------------- shapes
def _check_network(params: dict, fitted: dict, header: dict, file_size: int) -> int:
    """Compare the network the metadata describes with the stored tensors; its feature width."""
    stored = {
        k[len(NETWORK_PREFIX) :]: v for k, v in header.items() if k.startswith(NETWORK_PREFIX)
    }
    n_features, n_outputs = fitted["n_features_in"], fitted["n_outputs"]
    fields = (
        "fitted.n_features_in, fitted.n_outputs, params.hidden_layer_sizes, "
        "params.feature_dim, params.head, params.module"
    )
    feature_dim = n_outputs if params["feature_dim"] == "n_classes" else params["feature_dim"]
    try:
        with torch.device("meta"):  # shapes and dtypes only: no memory is allocated
            example = torch.empty(2, n_features)
            backbone, width = make_backbone(params, example, feature_dim)
            dry_run = _activation_bytes(backbone, example) if params["module"] else 0
            network = MLabNCNetwork(
                backbone,
                n_outputs=n_outputs,
                head=params["head"],
                feature_dim=feature_dim,
                n_backbone_outputs=width if width is not None else _width(backbone, example),
            )
    except (RuntimeError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        raise ValueError(f"The metadata ({fields}) describes no buildable network: {exc}") from exc
    budget = max(DRY_RUN_SLACK, DRY_RUN_FACTOR * file_size)
    if dry_run > budget:
        raise ValueError(
            f"params.module ({params['module']!r:.120}) with fitted.n_features_in={n_features} "
            f"needs {dry_run} bytes for a trial forward pass, more than {budget} for a file "
            f"of {file_size} bytes."
        )
    expected = {
        k: (_DTYPES.get(v.dtype, str(v.dtype)), tuple(v.shape))
        for k, v in network.state_dict().items()
    }
    missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or extra:
        raise ValueError(
            f"The stored network tensors do not match the metadata ({fields}): missing "
            f"{missing[:5]}, unexpected {extra[:5]}."
        )
    for name, (dtype, shape) in expected.items():
        if stored[name] != (dtype, shape):
            raise ValueError(
                f"The stored tensor {NETWORK_PREFIX + name!r} is {stored[name][0]} of shape "
                f"{stored[name][1]}, but the metadata ({fields}) implies {dtype} of shape {shape}."
            )
    return network.n_features


def _activation_bytes(backbone: torch.nn.Module, example: torch.Tensor) -> int:
    """Bytes of the outputs of every layer in a trial forward pass of ``example`` (on meta)."""
    total = [example.numel() * example.element_size()]

    def count(module, inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output.numel() * output.element_size()

    hooks = [m.register_forward_hook(count) for m in backbone.modules()]
    try:
        with torch.no_grad():
            backbone.eval()(example)
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]


def _width(backbone: torch.nn.Module, example: torch.Tensor) -> int:
    with torch.no_grad():
        out = backbone.eval()(example)
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise ValueError("the backbone does not return 2-D features")
    return int(out.shape[1])


def _check_prototypes(fitted: dict, header: dict, n_labels: int, n_features: int) -> None:
    """The prototype tensors: present exactly with ``fitted.scales``, their shapes from ``d``."""
    stored = {
        k[len(PROTOTYPES_PREFIX) :]: v
        for k, v in header.items()
        if k.startswith(PROTOTYPES_PREFIX)
    }
    if "scales" not in fitted:
        if stored:
            raise ValueError(
                f"The file holds prototype tensors {sorted(stored)[:5]} but no fitted.scales."
            )
        return
    for m, scale in _mapping(fitted["scales"], "fitted.scales").items():
        if not m.isdigit() or not 1 <= int(m) <= n_labels:
            raise ValueError(
                f"fitted.scales keys must be multiplicities 1..{n_labels}; got {m!r:.20}."
            )
        _number(scale, f"fitted.scales.{m}")
    shapes = {
        "atoms": (n_labels, n_features),
        "origin": (n_features,),
        "empty_mean": (n_features,),
    }
    for name in sorted(set(stored) | {"atoms", "origin"}):
        if name not in shapes:
            raise ValueError(f"Unexpected prototype tensor {PROTOTYPES_PREFIX + name!r}.")
        if name not in stored:
            raise ValueError(f"The prototype tensor {PROTOTYPES_PREFIX + name!r} is missing.")
        dtype, shape = stored[name]
        if dtype not in _FLOATING or shape != shapes[name]:
            raise ValueError(
                f"The stored tensor {PROTOTYPES_PREFIX + name!r} is {dtype} of shape {shape}, but "
                f"fitted.n_labels and the network's feature width imply {shapes[name]}."
            )


def _check_calibration(fitted: dict, header: dict, n_labels: int) -> None:
    """The probability maps: a float ``(n_labels, 2)`` tensor, present exactly with
    ``fitted.calibration`` (files from before calibration have neither)."""
    source = fitted.get("calibration")
    if source is None and CALIBRATION_TENSOR not in header:
        return
    if source not in CALIBRATION_SOURCES or CALIBRATION_TENSOR not in header:
        raise ValueError(
            f"fitted.calibration ({source!r:.40}) must be one of {CALIBRATION_SOURCES} and come "
            f"with the tensor {CALIBRATION_TENSOR!r}."
        )
    dtype, shape = header[CALIBRATION_TENSOR]
    if dtype not in _FLOATING or tuple(shape) != (n_labels, 2):
        raise ValueError(
            f"The stored tensor {CALIBRATION_TENSOR!r} is {dtype} of shape {shape}, but "
            f"fitted.n_labels implies ({n_labels}, 2)."
        )
