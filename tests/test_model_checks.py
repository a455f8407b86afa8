"""Hostile model files: each is refused with ValueError, or loads and predicts, allocating little.

A hypothesis fuzz mutates real model files: their JSON metadata (sizes, types, missing and
extra keys, wrong nesting, whole documents), their tensors (shapes, dtypes, missing and extra
ones) and their raw bytes. Every load runs under an allocation meter: ``tracemalloc`` for
Python and numpy memory, and a torch dispatch mode that adds up every tensor an operator
creates and refuses, before the allocation, any factory call that would pass the bound.
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from sklearn_mlabnc import MLabNCClassifier, load_model
from sklearn_mlabnc._model_checks import check_saved_model
from sklearn_mlabnc.backbones import SmallCNN

#: Loading a file of S bytes may allocate at most FACTOR * S + SLACK bytes (tensors, numpy
#: arrays and Python objects together). The slack covers the interpreter's own objects for a
#: network, a skorch net and an optimizer; the faults this guards against ask for gigabytes.
FACTOR = 8
SLACK = 8 * 2**20
FUZZ_EXAMPLES = 500
SLOW_EXAMPLES = 5000


class AllocationExceeded(Exception):
    """Raised by the meter: never a ValueError, so the fuzz reports it as a failure."""


_FACTORIES = {
    "empty",
    "empty_strided",
    "zeros",
    "ones",
    "full",
    "rand",
    "randn",
    "randint",
    "new_empty",
    "new_empty_strided",
    "new_zeros",
    "new_ones",
    "new_full",
    "scalar_tensor",
}


class TorchAllocations(TorchDispatchMode):
    """Adds up the bytes of every tensor an operator creates (views and in-place ops excluded).

    A factory call (``empty``, ``zeros``, ...) whose size would pass ``limit`` is refused
    before it allocates, so a fault shows up as an exception, not as a swapping machine.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.total = limit, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if name in _FACTORIES and kwargs.get("device") != torch.device("meta"):
            size = args[1] if name.startswith("new_") else args[0]
            if isinstance(size, (list, tuple)):
                dtype = kwargs.get("dtype") or torch.get_default_dtype()
                planned = math.prod(int(s) for s in size) * dtype.itemsize
                if self.total + planned > self.limit:
                    raise AllocationExceeded(f"{func} would allocate {planned} bytes")
        out = func(*args, **kwargs)
        if not any(r.alias_info is not None for r in func._schema.returns):
            for tensor in tree_leaves(out):
                if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
                    self.total += tensor.numel() * tensor.element_size()
        if self.total > self.limit:
            raise AllocationExceeded(f"tensors of {self.total} bytes after {func}")
        return out


def metered_load(path: Path, X: np.ndarray):
    """Load ``path`` and predict ``X``; return the outcome and the bytes allocated."""
    limit = FACTOR * path.stat().st_size + SLACK
    meter = TorchAllocations(limit)
    tracemalloc.start()
    try:
        with meter:
            try:
                model = load_model(path)
            except (ValueError, FileNotFoundError) as exc:
                outcome = exc
            else:
                outcome = model.predict(X)
                model.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak + meter.total, limit


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, 4)) < 0.4).astype(int)
    return Y @ rng.normal(size=(4, 16)) + 0.1 * rng.normal(size=(n, 16)), Y


BASES = {
    "mlp": dict(hidden_layer_sizes=(16, 8)),
    "prototype": dict(hidden_layer_sizes=(8,), decision="prototype"),
    "per-label etf": dict(
        hidden_layer_sizes=(8,), decision="per_label", head="etf", feature_dim="n_classes"
    ),
    "cnn": dict(module=functools.partial(SmallCNN, input_shape=(1, 4, 4), channels=(4,))),
}


@functools.cache
def base_file(name: str) -> bytes:
    X, Y = _data()
    clf = MLabNCClassifier(max_epochs=2, lr=1e-2, random_state=0, **BASES[name]).fit(X, Y)
    with tempfile.TemporaryDirectory() as folder:
        return clf.save(Path(folder) / "m.safetensors").read_bytes()


def _parts(content: bytes) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        path.write_bytes(content)
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}


# ----------------------------------------------------------------- strategies
SIZES = st.sampled_from([0, 1, 2, 3, -1, 2**31 - 1, 2**31, 2**40, 10**10, 10**11, 2**64])
LEAVES = (
    st.none()
    | st.booleans()
    | SIZES
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    """Every path (keys and indices) into a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def _mutate(value, path, op, new):
    if not path:
        return {"replace": new, "wrap": [value], "delete": None, "add": value}[op]
    head, rest = path[0], path[1:]
    value = dict(value) if isinstance(value, dict) else list(value)
    if not rest and op == "delete":
        del value[head]
    elif not rest and op == "add" and isinstance(value, dict):
        value[f"extra_{head}"] = new
    else:
        value[head] = _mutate(value[head], rest, op, new)
    return value


@st.composite
def metadata_mutations(draw):
    base = draw(st.sampled_from(sorted(BASES)))
    metadata, tensors = _parts(base_file(base))
    key = draw(st.sampled_from(["params", "fitted", "params", "fitted", "format_version"]))
    if key == "format_version":
        metadata[key] = draw(st.sampled_from(["0", "1", "2", "-1", "x", ""]))
    else:
        document = json.loads(metadata[key])
        path = draw(st.sampled_from(list(_paths(document))))
        op = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "add"]))
        mutated = _mutate(document, path, op, draw(JSON))
        if mutated is None:
            del metadata[key]
        else:
            metadata[key] = json.dumps(mutated)
    if draw(st.booleans()):  # also reshape, retype, drop or add a tensor
        name = draw(st.sampled_from(sorted(tensors)))
        change = draw(st.sampled_from(["grow", "shrink", "dtype", "drop", "add"]))
        t = tensors[name]
        if change == "grow":
            tensors[name] = torch.zeros(tuple(s + 1 for s in t.shape), dtype=t.dtype)
        elif change == "shrink" and t.ndim:
            tensors[name] = t.reshape(-1)[: max(0, t.numel() - 1)].clone()
        elif change == "dtype":
            tensors[name] = t.to(torch.float64 if t.dtype != torch.float64 else torch.int32)
        elif change == "drop":
            del tensors[name]
        else:
            tensors[name + "_extra"] = torch.zeros(3)
    return save(tensors, metadata=metadata)


@st.composite
def byte_mutations(draw):
    content = bytearray(base_file(draw(st.sampled_from(sorted(BASES)))))
    header_end = 8 + int.from_bytes(content[:8], "little")
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()) and header_end < len(content):  # tensor data: new values
            position = draw(st.integers(header_end, len(content) - 1))
            content[position] = draw(st.integers(0, 255))
            continue
        # The header: the JSON of sizes, offsets and metadata, edited any way.
        position = draw(st.integers(0, min(header_end, len(content)) - 1))
        edit = draw(st.sampled_from(["set", "insert", "delete", "truncate", "digit"]))
        if edit == "set":
            content[position] = draw(st.integers(0, 255))
        elif edit == "digit":  # a digit in the header changes a size or an offset
            content[position] = ord(draw(st.sampled_from("0123456789")))
        elif edit == "insert":
            content[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del content[position : position + draw(st.integers(1, 8))]
        else:
            del content[position:]
        if not content:
            break
    return bytes(content)


def _check_one(content: bytes) -> None:
    X, _ = _data(5, seed=1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.safetensors"
        path.write_bytes(content)
        outcome, allocated, limit = metered_load(path, X)
    assert allocated <= limit, (allocated, limit)
    if not isinstance(outcome, Exception):  # a file that loads gives a working model
        assert outcome.shape == (5, 4)


FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(content=metadata_mutations())
def test_mutated_metadata_is_refused_or_loads_within_the_allocation_bound(content):
    _check_one(content)


@settings(FUZZ, max_examples=FUZZ_EXAMPLES // 2)
@given(content=byte_mutations())
def test_mutated_bytes_are_refused_or_load_within_the_allocation_bound(content):
    _check_one(content)


@pytest.mark.slow
@settings(FUZZ, max_examples=SLOW_EXAMPLES)
@given(content=metadata_mutations() | byte_mutations())
def test_many_more_mutations(content):
    _check_one(content)


# ----------------------------------------------------------------- the reported faults
def _with_fitted(name: str, **changes) -> bytes:
    metadata, tensors = _parts(base_file(name))
    fitted = json.loads(metadata["fitted"])
    params = json.loads(metadata["params"])
    for key, value in changes.items():
        (fitted if key in fitted else params)[key] = value
    metadata.update(fitted=json.dumps(fitted), params=json.dumps(params))
    return save(tensors, metadata=metadata)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"n_features_in": 10**11}, "fitted.n_features_in"),
        ({"n_features_in": 2**31 - 1}, "fitted.n_features_in"),
        ({"n_features_in": 17}, "network.backbone.layers.0.weight"),
        ({"hidden_layer_sizes": [2**31]}, "params.hidden_layer_sizes"),
        ({"hidden_layer_sizes": [2**31 - 1, 8]}, "network.backbone.layers.0.weight"),
        ({"hidden_layer_sizes": [16] * 10**4}, "params.hidden_layer_sizes"),
        ({"n_outputs": 10**10}, "fitted.n_outputs"),
        ({"n_outputs": 6, "n_labels": 5}, "network.head.weight"),
        ({"label_thresholds": [0.5] * 3}, "fitted.label_thresholds"),
        ({"decision": "per_label"}, "fitted.label_thresholds"),
        ({"feature_names_in": ["a"] * 3}, "fitted.feature_names_in"),
        ({"multiplicities": [0, 99]}, "fitted.multiplicities"),
        ({"threshold": float("nan")}, "fitted.threshold"),
        ({"kind": "regression"}, "fitted.kind"),
        ({"device": "no-such-device"}, "params.device"),
        ({"lr": -1}, "lr"),
    ],
)
def test_each_reported_fault_names_its_field_and_allocates_little(changes, field, tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(_with_fitted("mlp", **changes))
    outcome, allocated, limit = metered_load(path, _data(3)[0])
    assert isinstance(outcome, ValueError), outcome
    assert field in str(outcome)
    assert allocated <= limit


def test_an_image_backbone_cannot_ask_for_a_huge_trial_pass(tmp_path):
    metadata, tensors = _parts(base_file("cnn"))
    params, fitted = json.loads(metadata["params"]), json.loads(metadata["fitted"])
    params["module"]["kwargs"]["input_shape"] = [1, 8192, 8192]  # 4 conv channels of 64 M
    fitted["n_features_in"] = 8192 * 8192
    metadata.update(params=json.dumps(params), fitted=json.dumps(fitted))
    path = tmp_path / "m.safetensors"
    path.write_bytes(save(tensors, metadata=metadata))
    outcome, allocated, limit = metered_load(path, _data(3)[0])
    assert isinstance(outcome, ValueError) and "trial forward pass" in str(outcome)
    assert allocated <= limit


def test_the_meter_sees_torch_and_numpy_allocations():
    # The meter must count what the faults would allocate, or the bound proves nothing.
    with TorchAllocations(limit=10**9) as meter:
        torch.nn.Linear(1000, 250)
    assert meter.total >= 1000 * 250 * 4
    with pytest.raises(AllocationExceeded), TorchAllocations(limit=10**6):
        torch.empty(10**9)  # refused before it allocates
    tracemalloc.start()
    np.zeros((1000, 1000))
    assert tracemalloc.get_traced_memory()[1] >= 8 * 10**6
    tracemalloc.stop()


def test_checks_pass_an_untouched_file():
    for name in BASES:
        metadata, tensors = _parts(base_file(name))
        documents = {k: json.loads(metadata[k]) for k in ("params", "fitted")}
        header = {k: (str(v.dtype), tuple(v.shape)) for k, v in tensors.items()}
        header = {
            k: ({"torch.float32": "F32", "torch.float64": "F64", "torch.int64": "I64"}[d], s)
            for k, (d, s) in header.items()
        }
        check_saved_model(documents, header, len(base_file(name)))
