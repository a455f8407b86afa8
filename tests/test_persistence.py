import functools
import json
import pickle
from pathlib import Path

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
    assert all(key.startswith(("network.", "prototypes.", "calibration.")) for key in keys)
    assert "calibration.coef" in keys  # the per-label probability maps


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


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("rule", ["threshold", "prototype"])
def test_a_model_saved_by_format_version_1_still_loads_and_predicts_identically(rule):
    # tests/data/v1_*.safetensors were written by MLabNCClassifier.save at commit 79a56ad
    # (hidden_layer_sizes=(8,), lr=1e-2, max_epochs=8, batch_size=16, random_state=0,
    # decision=rule) on 48 samples, 6 features, 4 labels with empty rows; v1_expected.npz
    # holds X and that version's outputs. A loader that drops a saved field fails here.
    expected = np.load(DATA / "v1_expected.npz")
    X = expected["X"]
    loaded = load_model(DATA / f"v1_{rule}.safetensors")
    assert loaded.decision_ == rule
    assert loaded.has_background_ and loaded.n_labels_ == 4
    np.testing.assert_array_equal(loaded.predict(X), expected[f"{rule}_predict"])
    # that version's predict_proba was the PAL label distribution, which keeps its values;
    # calibrated probabilities need a refit (the file holds no calibration)
    distribution = loaded.predict_label_distribution(X)
    np.testing.assert_allclose(distribution, expected[f"{rule}_proba"], rtol=1e-6)
    with pytest.raises(ValueError, match="fit it again"):
        loaded.predict_proba(X)
    np.testing.assert_allclose(
        loaded.transform(X), expected[f"{rule}_transform"], rtol=1e-6, atol=1e-7
    )
    if rule == "threshold":
        assert loaded.threshold_ == pytest.approx(0.9787305213488121, rel=1e-12)


RULES = {
    "tuned threshold": dict(decision="threshold"),
    "given threshold": dict(decision="threshold", threshold=0.3),
    "cardinality": dict(decision="cardinality"),
    "prototype": dict(decision="prototype"),
    "bce sigmoid": dict(loss="bce", decision="threshold", threshold=0.4),
    "per-label": dict(decision="per_label"),
    "bce per-label": dict(loss="bce", decision="per_label"),
    "auto": dict(decision="auto"),
    "auto, bce": dict(loss="bce", decision="auto"),
}


def _perturbed_rule_changes_predictions(clf, X):
    """Whether the tuned parameter matters: changing it changes some prediction."""
    clone = pickle.loads(pickle.dumps(clf))
    if clone.decision_ == "per_label":
        clone.label_thresholds_ = clone.label_thresholds_[::-1] * 0.5
    elif hasattr(clone, "threshold_"):
        clone.threshold_ = 1.0 if clone.threshold_ < 0.5 else 0.05
    elif clone.decision_ == "prototype":
        clone._prototypes.atoms_ = clone._prototypes.atoms_[::-1].copy()
    else:
        clone.multiplicities_ = np.array([1])
    return not np.array_equal(clone.predict(X), clf.predict(X))


@pytest.mark.parametrize("rule", RULES)
def test_save_load_and_pickle_keep_the_rule_and_what_it_tuned(rule, tmp_path):
    X, Y = _data()
    clf = MLabNCClassifier(**{**SMALL, **RULES[rule]}).fit(X, Y)
    # The test can only catch a dropped parameter if the parameter matters on this data.
    assert _perturbed_rule_changes_predictions(clf, X)
    reloaded = {
        "save/load": load_model(clf.save(tmp_path / "m.safetensors")),
        "pickle": pickle.loads(pickle.dumps(clf)),
    }
    for how, other in reloaded.items():
        assert other.decision_ == clf.decision_, how
        assert getattr(other, "threshold_", None) == getattr(clf, "threshold_", None), how
        np.testing.assert_array_equal(other.multiplicities_, clf.multiplicities_)
        assert getattr(other, "decision_scores_", None) == getattr(clf, "decision_scores_", None)
        if clf.decision_ == "per_label":
            np.testing.assert_array_equal(other.label_thresholds_, clf.label_thresholds_)
        if clf.decision_ == "prototype":
            np.testing.assert_array_equal(other._prototypes.atoms_, clf._prototypes.atoms_)
            assert other._prototypes.scales_ == clf._prototypes.scales_
        np.testing.assert_array_equal(other.predict(X), clf.predict(X), err_msg=how)


@pytest.mark.parametrize(
    "metadata, match",
    [
        ({"params": "{not json"}, "damaged metadata"),
        ({}, "damaged metadata: 'params' or 'fitted' is missing"),
        ({"params": "{}", "fitted": "{}"}, "damaged metadata"),
        ({"format_version": "one"}, "damaged metadata"),
    ],
    ids=["bad json", "missing documents", "missing keys", "bad version"],
)
def test_damaged_metadata_gives_a_clear_error(metadata, match, tmp_path):
    header = {"format": "sklearn_mlabnc.MLabNCClassifier", "format_version": "1", **metadata}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "m.safetensors"), metadata=header)
    with pytest.raises(ValueError, match=match):
        load_model(tmp_path / "m.safetensors")


def test_the_format_module_round_trips_tensors_and_documents(tmp_path):
    from sklearn_mlabnc._persistence import read_model, write_model

    documents = {"params": {"sizes": (3, 4), "x": np.float32(0.5)}, "fitted": {"a": None}}
    path = write_model(tmp_path / "m.safetensors", {"t": torch.arange(3.0)}, documents)
    read_documents, tensors = read_model(path)
    assert read_documents == {"params": {"sizes": [3, 4], "x": 0.5}, "fitted": {"a": None}}
    assert tensors["t"].tolist() == [0.0, 1.0, 2.0]


# ----------------------------------------------------------------- atomic saves
def _fail_half_way(exc):
    """A ``write_all`` that writes half of the data, then raises ``exc``."""

    def write_all(file, data):
        file.write(bytes(data[: len(data) // 2]))
        file.flush()
        raise exc

    return write_all


@pytest.mark.parametrize(
    "fault",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk full", "ctrl-c"],
)
def test_a_save_that_fails_half_way_keeps_the_old_model(fault, tmp_path, monkeypatch):
    import sklearn_mlabnc._persistence as persistence

    X, Y = _data()
    old = MLabNCClassifier(**SMALL).fit(X, Y)
    path = old.save(tmp_path / "model.safetensors")
    before = path.read_bytes()
    new = MLabNCClassifier(**{**SMALL, "random_state": 1, "max_epochs": 9}).fit(X, Y)
    assert not np.array_equal(new.predict_proba(X), old.predict_proba(X))
    monkeypatch.setattr(persistence, "write_all", _fail_half_way(fault))
    with pytest.raises(type(fault)) as raised:
        new.save(path)
    if isinstance(fault, OSError):
        assert str(path) in str(raised.value) and raised.value.errno == 28
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp left
    assert path.read_bytes() == before
    loaded = load_model(path)
    for method in ("predict", "predict_proba", "decision_function", "transform"):
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(old, method)(X))
    monkeypatch.undo()  # the next save goes through and replaces the model
    new.save(path)
    np.testing.assert_array_equal(load_model(path).predict_proba(X), new.predict_proba(X))


def test_a_failing_fsync_or_rename_keeps_the_old_file(tmp_path, monkeypatch):
    from sklearn_mlabnc._persistence import write_bytes

    path = write_bytes(tmp_path / "report.md", "old")
    for name in ("fsync", "replace"):
        with monkeypatch.context() as patch:

            def fail(*args, _name=name):
                raise OSError(5, f"{_name} failed")

            patch.setattr(f"os.{name}", fail)
            with pytest.raises(OSError, match="report.md"):
                write_bytes(path, "new")
        assert path.read_text() == "old"
        assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_io_problems_are_the_standard_exceptions_naming_the_path(tmp_path, monkeypatch):
    from sklearn_mlabnc._persistence import write_bytes

    X, Y = _data()
    clf = MLabNCClassifier(**SMALL).fit(X, Y)
    missing = tmp_path / "no" / "such" / "m.safetensors"
    with pytest.raises(FileNotFoundError, match="does not exist") as raised:
        clf.save(missing)
    assert raised.value.filename == str(missing)
    (tmp_path / "folder.safetensors").mkdir()
    with pytest.raises(IsADirectoryError, match="folder.safetensors"):
        clf.save(tmp_path / "folder.safetensors")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr("tempfile.mkstemp", refuse)  # as in a read-only folder
    with pytest.raises(PermissionError, match="m.safetensors"):
        write_bytes(tmp_path / "m.safetensors", b"x")
    assert list(tmp_path.iterdir()) == [tmp_path / "folder.safetensors"]


def test_written_files_get_the_mode_a_plain_open_would_give(tmp_path):
    from sklearn_mlabnc._persistence import write_bytes

    (tmp_path / "plain").write_text("x")
    written = write_bytes(tmp_path / "atomic", "x")
    assert written.stat().st_mode == (tmp_path / "plain").stat().st_mode
    written.chmod(0o600)  # an existing file keeps its mode
    assert write_bytes(written, "y").stat().st_mode & 0o777 == 0o600


def test_the_command_line_report_is_written_atomically(tmp_path, monkeypatch):
    import sklearn_mlabnc._persistence as persistence
    from sklearn_mlabnc import cli

    cli._write_with_figures(tmp_path, ["# old report"], lambda: {}, dpi=50)
    monkeypatch.setattr(persistence, "write_all", _fail_half_way(OSError(28, "disk full")))
    with pytest.raises(OSError, match="report.md"):
        cli._write_with_figures(tmp_path, ["# new report"] * 1000, lambda: {}, dpi=50)
    assert (tmp_path / "report.md").read_text() == "# old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_figures_are_written_atomically(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_mlabnc._persistence import write_figure

    figure = plt.figure()
    plt.plot([0, 1])
    path = write_figure(figure, tmp_path / "f.png", dpi=20)
    before = path.read_bytes()
    assert before[:4] == b"\x89PNG"

    class Broken:
        def savefig(self, file, **kwargs):
            figure.savefig(file, **kwargs)
            raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        write_figure(Broken(), path, dpi=40)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]
    plt.close(figure)
