"""Fixtures shared by the test modules: small data whose label sets are a function of X, and
the MULAN benchmark folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mulan_dir() -> Path:
    """The folder of the MULAN benchmark files named by ``MLABNC_DATA_DIR``; else skip."""
    folder = os.environ.get("MLABNC_DATA_DIR")
    if not folder or not (Path(folder).expanduser() / "emotions-train.arff").is_file():
        pytest.skip(
            "MULAN data not found: set MLABNC_DATA_DIR to a folder holding the MULAN ARFF "
            "files (emotions, yeast, CAL500, enron) to run this test"
        )
    return Path(folder).expanduser()


def chain_label_sets(n_labels: int) -> list[list[int]]:
    """Every singleton and each pair of consecutive labels."""
    return [[k] for k in range(n_labels)] + [[k, k + 1] for k in range(n_labels - 1)]


def make_label_set_data(sets, *, n=60, n_features=6, scale=1.0, noise=0.05, seed=0):
    """``(X, Y)`` cycling through ``sets``; ``X`` is ``scale * Y @ A`` plus Gaussian noise.

    The label sets are a clean function of ``X`` (up to ``noise``), so a small network fits
    them in a few epochs and tests can assert near-perfect predictions.
    """
    n_labels = 1 + max((k for s in sets for k in s), default=0)
    rng = np.random.default_rng(seed)
    Y = np.zeros((n, n_labels), dtype=int)
    for i in range(n):
        Y[i, sets[i % len(sets)]] = 1
    X = scale * Y @ rng.normal(size=(n_labels, n_features)) + noise * rng.normal(
        size=(n, n_features)
    )
    return X, Y


@pytest.fixture(scope="session")
def label_set_data():
    """The :func:`make_label_set_data` builder, with :func:`chain_label_sets` by default."""

    def build(n_labels=3, sets=None, **kwargs):
        return make_label_set_data(sets or chain_label_sets(n_labels), **kwargs)

    return build


@pytest.fixture(scope="session")
def tiny_params():
    """Estimator settings for a network that fits the fixture data in well under a second."""
    return dict(hidden_layer_sizes=(16,), lr=1e-2, max_epochs=5, batch_size=32, random_state=0)
