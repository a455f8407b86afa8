"""Plan which label sets a generator makes and how many samples each gets.

Shared by :func:`~sklearn_mlabnc.datasets.make_multilabel_digits` and
:func:`~sklearn_mlabnc.datasets.make_tagwise_blobs`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from numbers import Integral
from typing import Any

import numpy as np

from ._validation import check_count, check_imbalance

__all__ = ["balanced_subsets", "per_multiplicity", "plan_label_sets"]


def per_multiplicity(
    value: Any, name: str, multiplicities: Iterable[int], default: Any = None
) -> dict[int, Any]:
    """Expand ``value`` (scalar, ``None`` or mapping ``{m: value}``) to ``{m: value}``.

    Missing keys and ``None`` take ``default``; keys outside ``multiplicities`` raise.

    Examples
    --------
    >>> from sklearn_mlabnc.datasets._label_sets import per_multiplicity
    >>> per_multiplicity({2: 0.5}, "scales", [1, 2, 3], default=1.0)
    {1: 1.0, 2: 0.5, 3: 1.0}
    """
    multiplicities = list(multiplicities)
    if isinstance(value, Mapping):
        unknown = set(value) - set(multiplicities)
        if unknown:
            raise ValueError(
                f"{name} has keys {sorted(unknown)} outside the multiplicities "
                f"{multiplicities} in use."
            )
        return {m: value.get(m, default) for m in multiplicities}
    return {m: (default if value is None else value) for m in multiplicities}


def balanced_subsets(n_classes: int, m: int, n_sets: int) -> list[tuple[int, ...]]:
    """Deterministically choose ``n_sets`` label sets of size ``m`` covering labels evenly.

    A greedy pass takes, in turn, the (lexicographically first) unused set whose labels are
    least used so far; swaps of a chosen set for an unused one then lower the sum of squared
    label usages until no swap helps. Every label ends up in ``floor`` or ``ceil`` of
    ``n_sets * m / n_classes`` sets (checked for every case with ``n_classes <= 12``).

    Examples
    --------
    >>> from sklearn_mlabnc.datasets._label_sets import balanced_subsets
    >>> balanced_subsets(4, 2, 2)
    [(0, 1), (2, 3)]
    """
    candidates = list(itertools.combinations(range(n_classes), m))
    if n_sets >= len(candidates):
        return candidates
    members = np.array(candidates)
    incidence = np.zeros((len(candidates), n_classes), dtype=np.int64)
    np.put_along_axis(incidence, members, 1, axis=1)
    usage = np.zeros(n_classes, dtype=np.int64)
    chosen = np.zeros(len(candidates), dtype=bool)
    big = float((n_classes * m * n_sets + 1) ** 2)
    for _ in range(n_sets):
        used = usage[members]
        cost = used.max(axis=1) * big + (used**2).sum(axis=1)
        cost[chosen] = np.inf
        best = int(np.argmin(cost))  # argmin returns the first (lexicographic) minimiser
        chosen[best] = True
        usage += incidence[best]
    while True:
        inside, outside = np.flatnonzero(chosen), np.flatnonzero(~chosen)
        change = incidence[outside][np.newaxis, :, :] - incidence[inside][:, np.newaxis, :]
        delta = ((usage + change) ** 2).sum(axis=-1) - (usage**2).sum()
        i, j = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[i, j] >= 0:
            break
        chosen[inside[i]], chosen[outside[j]] = False, True
        usage = usage + change[i, j]
    return [candidates[i] for i in np.flatnonzero(chosen)]


def _geometric_counts(n_max: int, n_sets: int, ratio: float | None) -> list[int]:
    """Counts decaying geometrically from ``n_max`` to ``n_max / ratio`` over ``n_sets`` sets."""
    if ratio is None or n_sets == 1:
        return [n_max] * n_sets
    return [max(1, int(round(n_max * ratio ** (-j / (n_sets - 1))))) for j in range(n_sets)]


def _explicit_sets(
    label_sets: Iterable[Iterable[int]], n_classes: int, max_multiplicity: int
) -> dict[int, list[tuple[int, ...]]]:
    """Check user-given label sets; return them grouped by size, each group sorted."""
    sets: set[tuple[int, ...]] = set()
    for raw in label_sets:
        try:
            raw = list(raw)
        except TypeError as exc:
            raise ValueError(
                f"Each entry of label_sets must be an iterable of labels, got {raw!r}."
            ) from exc
        if any(isinstance(k, bool) or not isinstance(k, Integral) for k in raw):
            raise ValueError(f"Labels must be integers, got {raw!r}.")
        items = [int(k) for k in raw]
        if not items:
            raise ValueError("label_sets contains an empty label set.")
        if len(set(items)) != len(items):
            raise ValueError(f"Label set {raw!r} repeats a label.")
        if min(items) < 0 or max(items) >= n_classes:
            raise ValueError(f"Label set {raw!r} has labels outside [0, {n_classes - 1}].")
        if len(items) > max_multiplicity:
            raise ValueError(
                f"Label set {raw!r} has {len(items)} labels > max_multiplicity={max_multiplicity}."
            )
        key = tuple(sorted(items))
        if key in sets:
            raise ValueError(f"Label set {key} is listed twice in label_sets.")
        sets.add(key)
    if not sets:
        raise ValueError("label_sets is empty.")
    by_m: dict[int, list[tuple[int, ...]]] = {}
    for s in sorted(sets, key=lambda s: (len(s), s)):
        by_m.setdefault(len(s), []).append(s)
    return by_m


def plan_label_sets(
    *,
    n_classes: int,
    max_multiplicity: int,
    max_allowed_multiplicity: int,
    n_per_singleton: int,
    n_per_set: int | Mapping[int, int],
    label_sets: Iterable[Iterable[int]] | None,
    n_sets_per_multiplicity: int | Mapping[int, int] | None,
    imbalance: float | Mapping[int, float] | None,
) -> list[tuple[tuple[int, ...], int]]:
    """Return ``[(label_set, n_samples), ...]`` ordered by multiplicity, then lexicographically.

    Every singleton gets ``n_per_singleton`` samples and every set of size ``m >= 2`` gets
    ``n_per_set`` (or ``n_per_set[m]``), decaying within a multiplicity when ``imbalance`` is
    given. The sets are ``label_sets`` when given, else every singleton plus
    ``n_sets_per_multiplicity`` sets of each size chosen by :func:`balanced_subsets` (all of
    them by default).

    Examples
    --------
    >>> from sklearn_mlabnc.datasets._label_sets import plan_label_sets
    >>> plan_label_sets(n_classes=3, max_multiplicity=2, max_allowed_multiplicity=3,
    ...                 n_per_singleton=4, n_per_set=2, label_sets=None,
    ...                 n_sets_per_multiplicity={2: 2}, imbalance=None)
    [((0,), 4), ((1,), 4), ((2,), 4), ((0, 1), 2), ((0, 2), 2)]
    """
    max_multiplicity = check_count(max_multiplicity, "max_multiplicity")
    limit = min(max_allowed_multiplicity, n_classes)
    if max_multiplicity > limit:
        raise ValueError(f"max_multiplicity must be <= {limit}, got {max_multiplicity}.")
    n_per_singleton = check_count(n_per_singleton, "n_per_singleton")

    if label_sets is not None:
        if n_sets_per_multiplicity is not None:
            raise ValueError("Pass either label_sets or n_sets_per_multiplicity, not both.")
        by_m = _explicit_sets(label_sets, n_classes, max_multiplicity)
    else:
        multis = range(2, max_multiplicity + 1)
        n_sets = per_multiplicity(n_sets_per_multiplicity, "n_sets_per_multiplicity", multis)
        by_m = {1: [(k,) for k in range(n_classes)]}
        for m in multis:
            total = math.comb(n_classes, m)
            wanted = (
                total
                if n_sets[m] is None
                else check_count(n_sets[m], f"n_sets_per_multiplicity[{m}]")
            )
            by_m[m] = balanced_subsets(n_classes, m, wanted)

    counts = per_multiplicity(n_per_set, "n_per_set", [m for m in by_m if m > 1])
    for m, c in counts.items():
        if c is None:
            raise ValueError(f"n_per_set has no entry for multiplicity {m}.")
        counts[m] = check_count(c, f"n_per_set[{m}]")
    counts[1] = n_per_singleton
    ratios = per_multiplicity(imbalance, "imbalance", by_m)
    plan: list[tuple[tuple[int, ...], int]] = []
    for m in sorted(by_m):
        ratio = check_imbalance(ratios[m], f"imbalance[{m}]")
        plan.extend(zip(by_m[m], _geometric_counts(counts[m], len(by_m[m]), ratio), strict=True))
    return plan
