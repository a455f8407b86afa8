"""precision="auto": bfloat16 detection, what fits record, and exact collapse measurement."""

import copy
import pickle

import numpy as np
import pytest
import torch

from sklearn_mlabnc import MLabNCClassifier, _precision, load_model, native_bfloat16
from sklearn_mlabnc.collapse import nc1


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 30)
    X = Y @ rng.normal(size=(3, 6)) + 0.1 * rng.normal(size=(120, 6))
    return X, Y


def _bfloat16_hardware(monkeypatch, available: bool):
    monkeypatch.setattr(_precision, "native_bfloat16", lambda device="cpu": available)


def _clf(**params):
    return MLabNCClassifier(
        hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, random_state=0, **params
    )


@pytest.mark.parametrize(("available", "expected"), [(False, "float32"), (True, "bfloat16")])
def test_auto_follows_the_hardware(monkeypatch, data, available, expected):
    _bfloat16_hardware(monkeypatch, available)
    clf = _clf().fit(*data)  # precision="auto" is the default
    assert clf.precision == "auto" and clf.precision_ == expected
    assert clf.net_.module_.autocast_dtype == _precision.PRECISIONS[expected]


@pytest.mark.parametrize("forced", ["float32", "bfloat16"])
@pytest.mark.parametrize("available", [False, True])
def test_explicit_precision_ignores_the_hardware(monkeypatch, data, forced, available):
    _bfloat16_hardware(monkeypatch, available)
    assert _clf(precision=forced).fit(*data).precision_ == forced


def test_unknown_precision_is_rejected(data):
    with pytest.raises(ValueError, match="precision"):
        _clf(precision="float16").fit(*data)


@pytest.mark.parametrize(("saved_on", "loaded_on"), [(True, False), (False, True)])
def test_models_move_between_machines(monkeypatch, tmp_path, data, saved_on, loaded_on):
    X, Y = data
    _bfloat16_hardware(monkeypatch, saved_on)
    clf = _clf().fit(X, Y)
    path = clf.save(tmp_path / "model.safetensors")
    pickled = pickle.dumps(clf)
    _bfloat16_hardware(monkeypatch, loaded_on)
    loaded = load_model(path)
    # Prediction runs in float32 everywhere: the same scores on either machine.
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(pickle.loads(pickled).predict_proba(X), clf.predict_proba(X))
    # Further training uses what the loading machine offers.
    assert loaded.precision_ == ("bfloat16" if loaded_on else "float32")
    before = loaded.predict_proba(X)
    loaded.set_params(warm_start=True, max_epochs=2).fit(X, Y)
    after = loaded.predict_proba(X)
    assert loaded.precision_ == ("bfloat16" if loaded_on else "float32")
    assert np.isfinite(after).all() and not np.array_equal(after, before)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({"avx512_bf16", "avx2"}, True), ({"amx_bf16"}, True), ({"bf16"}, True), ({"avx2"}, False)],
)
def test_cpu_detection_reads_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(_precision, "_TORCH_CPU_PROBES", ())
    monkeypatch.setattr(_precision, "_cpu_flags", lambda: flags)
    assert _precision._cpu_bfloat16.__wrapped__() is expected


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), False), ((8, 0), True)])
def test_cuda_detection_needs_compute_capability_8(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert native_bfloat16("cuda") is expected
    assert _precision.resolve_precision("auto", "cuda") == ("bfloat16" if expected else "float32")


def test_native_bfloat16_validates_its_argument():
    assert isinstance(native_bfloat16(), bool)
    with pytest.raises(ValueError, match="device"):
        native_bfloat16(3)


def test_nc1_is_exact_under_both_precisions():
    """Collapse metrics see float32 features whatever the training precision."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    X = 3 * np.eye(4)[labels] @ rng.normal(size=(4, 8)) + 0.01 * rng.normal(size=(200, 8))
    clf = MLabNCClassifier(
        hidden_layer_sizes=(32,),
        dropout=0.0,
        lr=1e-2,
        max_epochs=150,
        batch_size=200,
        feature_decay=1e-4,
        precision="float32",
        random_state=0,
    ).fit(X, labels)
    H = clf.transform(X)
    reference = nc1(H, labels)
    assert reference < 1e-3  # near collapse, where bfloat16 rounding would dominate
    as_bfloat16 = copy.deepcopy(clf)
    as_bfloat16.net_.module_.autocast_dtype = torch.bfloat16
    assert nc1(as_bfloat16.transform(X), labels) == pytest.approx(reference, rel=1e-6)
    monitor = nc1(as_bfloat16.network_outputs(X).features.numpy(), labels)
    assert monitor == pytest.approx(reference, rel=1e-6)
    # The same features computed in bfloat16 would not pass: the check can fail.
    module = as_bfloat16.net_.module_
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        rounded = module.backbone(torch.as_tensor(X, dtype=torch.float32)).float().numpy()
    assert abs(nc1(rounded, labels) - reference) > 1e-3 * reference
