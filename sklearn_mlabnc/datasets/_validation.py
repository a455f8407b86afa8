"""Argument checks shared by the dataset functions.

The parameter constraints are those of :func:`sklearn.utils._param_validation.validate_params`;
the helpers check what a constraint cannot express (the values inside a per-multiplicity dict)
and turn a validated ``random_state`` into a generator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

__all__ = [
    "COUNT",
    "LABEL_SET_CONSTRAINTS",
    "RANDOM_STATE",
    "check_count",
    "check_rng",
    "check_imbalance",
]

#: A count of at least one (samples, label sets, labels in a set).
COUNT = Interval(Integral, 1, None, closed="left")

#: ``random_state`` as scikit-learn accepts it, or a numpy ``Generator``.
RANDOM_STATE = ["random_state", np.random.Generator]

#: Constraints of the label-set arguments shared by the generators (see ``plan_label_sets``).
LABEL_SET_CONSTRAINTS: dict[str, list[Any]] = {
    "max_multiplicity": [COUNT],
    "n_per_singleton": [COUNT],
    "n_per_set": [COUNT, Mapping],
    "label_sets": [Iterable, None],
    "n_sets_per_multiplicity": [COUNT, Mapping, None],
    "imbalance": [Interval(Real, 1, None, closed="left"), Mapping, None],
    "shuffle": ["boolean"],
    "random_state": RANDOM_STATE,
}


def check_count(value: Any, name: str) -> int:
    """``value`` as an int if it is an integer >= 1 (not a bool), else a ValueError.

    Examples
    --------
    >>> from sklearn_mlabnc.datasets._validation import check_count
    >>> check_count(3, "n_per_set[2]")
    3
    >>> check_count(0, "n_per_set[2]")
    Traceback (most recent call last):
    ...
    ValueError: n_per_set[2] must be an integer >= 1, got 0.
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def check_imbalance(value: Any, name: str) -> float | None:
    """An imbalance ratio: None, or a real number >= 1 returned as a float.

    Examples
    --------
    >>> from sklearn_mlabnc.datasets._validation import check_imbalance
    >>> check_imbalance(2, "imbalance[3]"), check_imbalance(None, "imbalance[3]")
    (2.0, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or not value >= 1:
        raise ValueError(f"{name} must be a real number >= 1, got {value!r}.")
    return float(value)


def check_rng(random_state: Any) -> np.random.RandomState | np.random.Generator:
    """Like :func:`~sklearn.utils.check_random_state`, also passing a numpy Generator through.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mlabnc.datasets._validation import check_rng
    >>> type(check_rng(0)).__name__, type(check_rng(np.random.default_rng(0))).__name__
    ('RandomState', 'Generator')
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)
