"""Validation at the edges: unfitted estimators and out-of-range constructor parameters.

Every public method and property that needs a fitted estimator raises ``NotFittedError``
on an unfitted one, and every constructor parameter is range-checked: a bad value gives a
``ValueError`` or ``TypeError`` naming the parameter, never an error from deep inside torch.
"""

import inspect
import re

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_mlabnc import (
    COLLAPSE_SCORERS,
    CollapseFeatures,
    MLabNCClassifier,
    NeuralCollapseAnalyzer,
    make_collapse_scorer,
)

rng = np.random.default_rng(0)
X = rng.normal(size=(24, 4))
Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 6)

# Methods that do not need a fitted estimator (they configure or fit it).
NEEDS_NO_FIT = {
    "fit",
    "partial_fit",
    "fit_transform",
    "get_params",
    "set_params",
    "set_output",
    "get_metadata_routing",
}


def _unfitted_estimators():
    return {
        "MLabNCClassifier": MLabNCClassifier(),
        "CollapseFeatures": CollapseFeatures(),
        "CollapseFeatures(prefit=True)": CollapseFeatures(MLabNCClassifier(), prefit=True),
        "NeuralCollapseAnalyzer": NeuralCollapseAnalyzer(),
    }


def _public_members(estimator):
    for name in sorted(dir(type(estimator))):
        if name.startswith("_") or name in NEEDS_NO_FIT or name.startswith("set_"):
            continue
        member = inspect.getattr_static(type(estimator), name)
        if isinstance(member, property) or callable(member):
            yield name, member


def _arguments(method):
    """Positional arguments for a public method: data named like the project's methods."""
    values = {"X": X, "y": Y, "Y": Y, "H": X, "input_features": None}
    args = []
    for parameter in inspect.signature(method).parameters.values():
        required = parameter.default is parameter.empty
        if required and parameter.kind in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
        ):
            args.append(values.get(parameter.name, X))
    return args


CASES = [
    (label, name)
    for label, estimator in _unfitted_estimators().items()
    for name, _ in _public_members(estimator)
]


def test_the_sweep_covers_the_entry_points_that_need_a_fit():
    covered = {(label, name) for label, name in CASES}
    for name in (
        "predict",
        "predict_proba",
        "decision_function",
        "transform",
        "score",
        "save",
        "network_outputs",
        "coef_",
        "intercept_",
        "get_feature_names_out",
    ):
        assert ("MLabNCClassifier", name) in covered, name
    assert ("CollapseFeatures", "transform") in covered
    analyzer = {name for label, name in covered if label == "NeuralCollapseAnalyzer"}
    assert {"transform", "get_feature_names_out"} <= analyzer, analyzer


@pytest.mark.parametrize("label, name", CASES, ids=[f"{lab}.{n}" for lab, n in CASES])
def test_public_members_of_an_unfitted_estimator_raise_not_fitted(label, name, tmp_path):
    estimator = _unfitted_estimators()[label]
    member = inspect.getattr_static(type(estimator), name)
    with pytest.raises(NotFittedError):
        if isinstance(member, property):
            getattr(estimator, name)
        else:
            method = getattr(estimator, name)
            args = [
                tmp_path / "m.safetensors" if name == "save" else a for a in _arguments(method)
            ]
            method(*args)


SCORERS = {**COLLAPSE_SCORERS, "nc1_label_sets": make_collapse_scorer("nc1", classes="label_sets")}
UNFITTED_FOR_SCORERS = {
    "MLabNCClassifier": MLabNCClassifier,
    "CollapseFeatures": CollapseFeatures,
    "Pipeline": lambda: make_pipeline(CollapseFeatures(), LogisticRegression()),
}


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("estimator", UNFITTED_FOR_SCORERS)
def test_scorers_on_an_unfitted_estimator_raise_not_fitted(scorer, estimator):
    with pytest.raises(NotFittedError):
        SCORERS[scorer](UNFITTED_FOR_SCORERS[estimator](), X, Y)


# --------------------------------------------------------------- constructor parameters
def _wrong_width(n_inputs):
    return torch.nn.Linear(n_inputs, 0)


class _DeclaresEight(torch.nn.Module):
    """Declares 8 output features but returns 5."""

    n_outputs = 8

    def __init__(self, n_inputs):
        super().__init__()
        self.linear = torch.nn.Linear(n_inputs, 5)

    def forward(self, x):
        return self.linear(x)


class _DropsRows(_DeclaresEight):
    """Returns one row whatever the batch."""

    n_outputs = None

    def forward(self, x):
        return self.linear(x)[:1]


BAD_CLASSIFIER_PARAMS = {
    "module": [
        5,
        "mlp",
        lambda n: "not a module",
        _wrong_width,
        lambda n: torch.nn.Flatten(0),
        _DeclaresEight,
        _DeclaresEight(4),
        _DropsRows,
    ],
    "hidden_layer_sizes": [(0,), (-3,), (2.5,), (), (True,), "abc", ((8,),), None],
    "dropout": [-0.1, 1.0, np.nan, "half"],
    "feature_dim": [0, -2, 2.5, "n_labels", True],
    "head": ["etf2", None],
    "loss": ["mse", None],
    "feature_decay": [-1e-3, np.nan, "x"],
    "weight_decay": [-1.0, np.nan],
    "optimizer": ["adagrad", 3, None],
    "lr": [0.0, -1e-3, np.nan, "fast"],
    "momentum": [-0.1, 1.0, np.nan],
    "lr_schedule": ["step", None],
    "batch_size": [0, -1, 2.5, None, True],
    "max_epochs": [0, -1, 2.5, None, True],
    "early_stopping": ["yes", 2],
    "validation_fraction": [0.0, 1.0, -0.5, np.nan],
    "n_iter_no_change": [0, 1.5, True],
    "decision": ["majority", None],
    "decision_metric": ["accuracy", None],
    "threshold": [0.0, 1.5, -0.2, np.nan, "half"],
    "calibration": ["isotonic", None, 1],
    "empty_label_sets": ["drop", None],
    "device": ["gpu", "", 3, "meta", "cuda:99"],
    "precision": ["float16", None],
    "compile": ["yes", 2],
    "strategy": ["fsdp", None],
    "collapse_every": [0, -1, 2.5, True],
    "callbacks": [[1], ["x"], [("a", 1)], "not a list"],
    "warm_start": ["yes", 2],
    "random_state": ["seed", 1.5],
    "verbose": ["loud", -1],
}

BAD_CASES = [
    (name, i) for name, values in BAD_CLASSIFIER_PARAMS.items() for i in range(len(values))
]


def test_every_classifier_parameter_has_bad_values_in_the_battery():
    assert set(BAD_CLASSIFIER_PARAMS) == set(MLabNCClassifier().get_params(deep=False))


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize(
    "name, i", BAD_CASES, ids=[f"{n}-{BAD_CLASSIFIER_PARAMS[n][i]!r}" for n, i in BAD_CASES]
)
def test_out_of_range_classifier_parameters_are_refused_with_a_clear_message(name, i):
    value = BAD_CLASSIFIER_PARAMS[name][i]
    if name == "device" and value == "cuda:99" and torch.cuda.device_count() > 99:
        pytest.skip("this machine has that device")
    clf = MLabNCClassifier(**{name: value, "max_epochs": 1, "hidden_layer_sizes": (4,)})
    clf.set_params(**{name: value})
    with pytest.raises((ValueError, TypeError)) as info:
        clf.fit(X, Y)
    message = str(info.value)
    # sklearn's messages say "The 'name' parameter"; ours name the parameter or the module.
    assert re.search(rf"\b{name}\b|module|backbone", message), message
    assert not isinstance(info.value, RuntimeError)


BAD_ANALYZER_PARAMS = {
    "W": [np.ones((2, 2)), "w"],
    "b": [np.ones(7), "b"],
    "centered": ["yes"],
    "classes": ["sets"],
    "global_mean": ["median"],
    "inverse": ["qr"],
    "max_subsets": [0, -1],
    "random_state": [-1, "seed"],
    "bias_metric": ["relative", 1],
    "tagwise_centered": ["no"],
}


def test_every_analyzer_parameter_has_bad_values_in_the_battery():
    assert set(BAD_ANALYZER_PARAMS) == set(NeuralCollapseAnalyzer().get_params())


@pytest.mark.parametrize(
    "name, value",
    [(n, v) for n, values in BAD_ANALYZER_PARAMS.items() for v in values],
)
def test_out_of_range_analyzer_parameters_are_refused(name, value):
    with pytest.raises((ValueError, TypeError)) as info:
        NeuralCollapseAnalyzer(**{name: value}).fit(X, Y)
    assert not isinstance(info.value, RuntimeError)


@pytest.mark.parametrize(
    "params", [{"estimator": "net"}, {"estimator": 3}, {"prefit": "yes"}], ids=str
)
def test_out_of_range_collapse_features_parameters_are_refused(params):
    with pytest.raises((ValueError, TypeError)):
        CollapseFeatures(**params).fit(X, Y)
