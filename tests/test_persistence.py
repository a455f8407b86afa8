import functools
import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError

from sklearn_mlabnc import MLabNCClassifier, load_model
from sklearn_mlabnc.backbones import SmallCNN

SMALL = dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, batch_size=32, random_state=0)


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.zeros((n, 4), dtype=int)
    for i, labels in enumerate([[0], [1], [2], [3], [0, 1], []] * (n // 6)):
        Y[i, labels] = 1
    return Y @ rng.normal(size=(4, 16)) + 0.1 * rng.normal(size=(n, 16)), Y


CASES = {
    "threshold+background": dict(),
    "prototype": dict(decision="prototype"),
    "cardinality, etf, d=K": dict(decision="cardinality", head="etf", feature_dim="n_classes"),
    "bce": dict(loss="bce"),
    "cnn backbone": dict(module=functools.partial(SmallCNN, input_shape=(1, 4, 4), channels=(4,))),
}


@pytest.mark.parametrize("case", CASES)
def test_round_trip_predicts_identically(case, tmp_path):
    X, Y = _data()
    clf = MLabNCClassifier(**{**SMALL, **CASES[case]}).fit(X, Y)
    loaded = load_model(clf.save(tmp_path / "model.safetensors"))
    for method in ("predict", "predict_proba", "decision_function", "transform"):
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(clf, method)(X))
    assert loaded.get_params(deep=False).keys() == clf.get_params(deep=False).keys()
    assert loaded.history_[-1]["train_loss"] == pytest.approx(clf.history_[-1]["train_loss"])
    assert loaded.n_iter_ == clf.n_iter_


def test_round_trip_class_labels_and_feature_names(tmp_path):
    X, _ = _data()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(16)])
    y = np.array(["ant", "bee", "cat"])[np.arange(60) % 3]
    clf = MLabNCClassifier(**SMALL).fit(frame, y)
    loaded = load_model(clf.save(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_the_file_is_plain_tensors_and_json(tmp_path):
    X, Y = _data()
    path = MLabNCClassifier(**SMALL).fit(X, Y).save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        keys = list(handle.keys())
    assert metadata["format"] == "sklearn_mlabnc.MLabNCClassifier"
    assert json.loads(metadata["params"])["hidden_layer_sizes"] == [16]
    assert all(key.startswith(("network.", "prototypes.")) for key in keys)


def test_a_gpu_saved_model_loads_on_the_cpu(tmp_path):
    X, Y = _data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    path = clf.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        metadata, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    params = json.loads(metadata["params"])
    params["device"] = "cuda:0"  # as written on a GPU machine
    metadata["params"] = json.dumps(params)
    save_file(tensors, str(path), metadata=metadata)
    loaded = load_model(path)
    if not torch.cuda.is_available():
        assert loaded.net_.device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_files_give_a_clear_error(damage, tmp_path):
    X, Y = _data()
    path = MLabNCClassifier(**SMALL).fit(X, Y).save(tmp_path / "m.safetensors")
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a model" * 10)
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError, match="corrupted or truncated"):
        load_model(path)


def test_foreign_and_future_files_are_refused(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not written by MLabNCClassifier.save"):
        load_model(tmp_path / "other.safetensors")
    save_file(
        {"w": torch.zeros(2)},
        str(tmp_path / "future.safetensors"),
        metadata={"format": "sklearn_mlabnc.MLabNCClassifier", "format_version": "99"},
    )
    with pytest.raises(ValueError, match="upgrade sklearn_mlabnc"):
        load_model(tmp_path / "future.safetensors")
    with pytest.raises(FileNotFoundError, match="No saved model"):
        load_model(tmp_path / "missing.safetensors")


def test_custom_modules_and_callbacks_cannot_be_saved_without_pickle(tmp_path):
    X, Y = _data()
    custom = MLabNCClassifier(lambda n: torch.nn.Linear(n, 8), **SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="Use pickle or joblib"):
        custom.save(tmp_path / "m.safetensors")
    with pytest.raises(NotFittedError):
        MLabNCClassifier().save(tmp_path / "m.safetensors")
