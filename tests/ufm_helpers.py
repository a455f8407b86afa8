"""Independent constructions the UFM and theory tests compare the solvers with."""

from __future__ import annotations

import itertools

import numpy as np


def balanced_labels(K: int, n_per_multiplicity: dict[int, int]) -> np.ndarray:
    """Every label set of size m, repeated n_m times, as a 0/1 indicator."""
    rows = []
    for m, n in sorted(n_per_multiplicity.items()):
        for S in itertools.combinations(range(K), m):
            row = np.zeros(K)
            row[list(S)] = 1.0
            rows.extend([row] * n)
    return np.array(rows)


def unit_etf(K: int) -> np.ndarray:
    """The K x K simplex ETF with unit rows: the centred identity, rows normalised."""
    U = np.eye(K) - 1.0 / K
    return U / np.linalg.norm(U, axis=1, keepdims=True)
