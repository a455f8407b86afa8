"""Tests of the dataset generators of sklearn_mlabnc.datasets (load_mulan: test_datasets_mulan)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_mlabnc.datasets import make_multilabel_digits, make_tagwise_blobs

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

_DIGITS = load_digits()
_CORNER_OFFSETS = {0: (0, 0), 1: (0, 8), 2: (8, 0), 3: (8, 8)}


def _set_counts(Y) -> Counter:
    return Counter(tuple(np.flatnonzero(row).tolist()) for row in np.asarray(Y))


# ---------------------------------------------------------------------------------------------
# make_multilabel_digits
# ---------------------------------------------------------------------------------------------


def test_digits_default_shapes_and_ranges():
    data = make_multilabel_digits(random_state=0)
    assert data.data.shape == (1900, 256)
    assert data.data.dtype == np.float64
    assert data.target.shape == (1900, 10)
    assert data.target.dtype == np.int64
    assert data.images.shape == (1900, 16, 16)
    np.testing.assert_array_equal(data.images.reshape(1900, -1), data.data)
    assert data.data.min() >= 0.0 and data.data.max() <= 1.0
    assert data.data.max() == 1.0
    assert set(np.unique(data.target)) == {0, 1}
    assert data.target_names == [str(k) for k in range(10)]
    assert len(data.feature_names) == 256 and data.feature_names[17] == "pixel_1_1"
    assert data.source_indices.shape == data.corners.shape == (1900, 2)
    assert "Multi-label digits" in data.DESCR
    assert data.frame is None


@pytest.mark.parametrize("subset", ["train", "test", "all"])
def test_digits_image_shape_2d(subset):
    X, Y = make_multilabel_digits(
        n_per_singleton=3,
        n_per_set=1,
        image_shape="2d",
        subset=subset,
        return_X_y=True,
        random_state=1,
    )
    assert X.shape == (30 + 45, 1, 16, 16)
    assert Y.shape == (75, 10)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {1: (10, 100), 2: (45, 20)}),
        ({"n_per_singleton": 7, "n_per_set": 3}, {1: (10, 7), 2: (45, 3)}),
        (
            {"n_per_singleton": 4, "n_per_set": {2: 2, 3: 1}, "max_multiplicity": 3},
            {1: (10, 4), 2: (45, 2), 3: (120, 1)},
        ),
        (
            {"n_per_singleton": 2, "n_per_set": 1, "max_multiplicity": 4},
            {1: (10, 2), 2: (45, 1), 3: (120, 1), 4: (210, 1)},
        ),
        (
            {
                "n_per_singleton": 5,
                "n_per_set": 2,
                "max_multiplicity": 4,
                "n_sets_per_multiplicity": {3: 10, 4: 5},
            },
            {1: (10, 5), 2: (45, 2), 3: (10, 2), 4: (5, 2)},
        ),
        ({"max_multiplicity": 1, "n_per_singleton": 6}, {1: (10, 6)}),
    ],
)
def test_digits_balanced_counts(kwargs, expected):
    data = make_multilabel_digits(random_state=0, **kwargs)
    counts = _set_counts(data.target)
    by_m: dict[int, list[int]] = {}
    for label_set, n in counts.items():
        by_m.setdefault(len(label_set), []).append(n)
    assert set(by_m) == set(expected)
    for m, (n_sets, n_each) in expected.items():
        assert len(by_m[m]) == n_sets
        assert set(by_m[m]) == {n_each}
    assert sorted(counts.items()) == sorted(data.label_sets)
    assert len(data.target) == sum(n for _, n in data.label_sets)


def test_digits_chosen_sets_cover_labels_evenly_and_ignore_seed():
    kwargs = {"n_per_singleton": 1, "n_per_set": 1, "max_multiplicity": 3}
    a = make_multilabel_digits(n_sets_per_multiplicity=20, random_state=0, **kwargs)
    b = make_multilabel_digits(n_sets_per_multiplicity=20, random_state=5, **kwargs)
    assert [s for s, _ in a.label_sets] == [s for s, _ in b.label_sets]
    triples = [s for s, _ in a.label_sets if len(s) == 3]
    pairs = [s for s, _ in a.label_sets if len(s) == 2]
    assert len(triples) == 20 and len(pairs) == 20
    for sets, m in ((triples, 3), (pairs, 2)):
        usage = np.bincount(np.concatenate(sets), minlength=10)
        assert usage.sum() == 20 * m
        assert usage.max() - usage.min() <= 1


def test_digits_explicit_label_sets():
    data = make_multilabel_digits(
        label_sets=[(3, 1), [0], (2, 5, 9)],
        n_per_singleton=4,
        n_per_set=6,
        max_multiplicity=3,
        random_state=0,
    )
    assert dict(_set_counts(data.target)) == {(0,): 4, (1, 3): 6, (2, 5, 9): 6}


def _reconstruct(source_indices, corners):
    canvas = np.zeros((16, 16))
    for src, corner in zip(source_indices, corners, strict=True):
        if src < 0:
            continue
        r, c = _CORNER_OFFSETS[int(corner)]
        canvas[r : r + 8, c : c + 8] = np.maximum(
            canvas[r : r + 8, c : c + 8], _DIGITS.images[src] / 16
        )
    return canvas


@pytest.mark.parametrize("max_multiplicity", [1, 2, 3, 4])
def test_digits_images_are_pixelwise_max_of_placed_digits(max_multiplicity):
    data = make_multilabel_digits(
        n_per_singleton=3,
        n_per_set=1,
        max_multiplicity=max_multiplicity,
        n_sets_per_multiplicity=8,
        random_state=3,
    )
    rng = np.random.RandomState(0)
    for m in range(1, max_multiplicity + 1):
        rows = np.flatnonzero(data.target.sum(axis=1) == m)
        for i in rng.choice(rows, size=min(5, len(rows)), replace=False):
            label_set = np.flatnonzero(data.target[i])
            src = data.source_indices[i]
            corners = data.corners[i]
            used = src >= 0
            assert used.sum() == m
            # distinct classes, exactly the label set, and distinct corners
            np.testing.assert_array_equal(np.sort(_DIGITS.target[src[used]]), label_set)
            assert len(set(corners[used].tolist())) == m
            assert set(corners[used].tolist()) <= {0, 1, 2, 3}
            np.testing.assert_array_equal(data.images[i], _reconstruct(src, corners))


def test_digits_quadrants_hold_source_digits_of_the_label_set():
    """Metadata-free check: every non-empty quadrant is one source digit of a class in S."""
    data = make_multilabel_digits(
        n_per_singleton=2,
        n_per_set=1,
        max_multiplicity=4,
        n_sets_per_multiplicity=5,
        subset="test",
        random_state=7,
    )
    flat_sources = _DIGITS.images.reshape(len(_DIGITS.images), -1) / 16
    for i in range(0, len(data.target), 7):
        label_set = set(np.flatnonzero(data.target[i]).tolist())
        found = []
        for r, c in _CORNER_OFFSETS.values():
            quadrant = data.images[i, r : r + 8, c : c + 8].ravel()
            if not quadrant.any():
                continue
            match = np.flatnonzero(np.all(flat_sources == quadrant, axis=1))
            assert match.size >= 1
            found.append({int(_DIGITS.target[j]) for j in match})
        assert len(found) == len(label_set)
        classes = [f & label_set for f in found]
        assert all(classes)
        assert set().union(*classes) == label_set


def test_digits_determinism():
    kwargs = {"n_per_singleton": 5, "n_per_set": 2}
    a = make_multilabel_digits(random_state=0, **kwargs)
    b = make_multilabel_digits(random_state=0, **kwargs)
    c = make_multilabel_digits(random_state=1, **kwargs)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.source_indices, b.source_indices)
    assert not np.array_equal(a.data, c.data)
    g1 = make_multilabel_digits(random_state=np.random.default_rng(4), **kwargs)
    g2 = make_multilabel_digits(random_state=np.random.default_rng(4), **kwargs)
    np.testing.assert_array_equal(g1.data, g2.data)


def test_digits_subsets_are_disjoint_and_deterministic():
    kwargs = {"n_per_singleton": 150, "n_per_set": 10, "random_state": 0}
    train = make_multilabel_digits(subset="train", **kwargs)
    test = make_multilabel_digits(subset="test", **kwargs)
    train_src = set(train.source_indices[train.source_indices >= 0].tolist())
    test_src = set(test.source_indices[test.source_indices >= 0].tolist())
    assert train_src and test_src
    assert train_src.isdisjoint(test_src)
    # the split does not depend on the seed: another seed draws from the same train half
    other = make_multilabel_digits(
        subset="train", n_per_singleton=150, n_per_set=10, random_state=9
    )
    other_src = set(other.source_indices[other.source_indices >= 0].tolist())
    assert other_src.isdisjoint(test_src)
    assert len(train_src | test_src) > 1500  # both halves are used nearly entirely
    all_src = make_multilabel_digits(subset="all", **kwargs).source_indices
    assert len(set(all_src[all_src >= 0].tolist())) > 1300


def test_digits_shuffle_false_orders_by_label_set():
    data = make_multilabel_digits(n_per_singleton=2, n_per_set=1, shuffle=False, random_state=0)
    multiplicity = data.target.sum(axis=1)
    assert np.all(np.diff(multiplicity) >= 0)
    np.testing.assert_array_equal(data.target[:2], np.eye(10, dtype=int)[[0, 0]])


@pytest.mark.parametrize("ratio", [2.0, 10.0])
def test_digits_imbalance_within_multiplicity(ratio):
    data = make_multilabel_digits(
        n_per_singleton=40, n_per_set=20, imbalance=ratio, random_state=0
    )
    counts = _set_counts(data.target)
    singles = [counts[(k,)] for k in range(10)]
    pairs = [counts[s] for s in sorted(s for s in counts if len(s) == 2)]
    for values, top in ((singles, 40), (pairs, 20)):
        assert values[0] == top
        assert values[-1] == max(1, round(top / ratio))
        assert all(a >= b for a, b in zip(values, values[1:], strict=False))
        expected = [
            max(1, round(top * ratio ** (-j / (len(values) - 1)))) for j in range(len(values))
        ]
        assert values == expected


def test_digits_imbalance_per_multiplicity_mapping():
    data = make_multilabel_digits(
        n_per_singleton=10, n_per_set=8, imbalance={2: 4.0}, random_state=0
    )
    counts = _set_counts(data.target)
    assert {counts[(k,)] for k in range(10)} == {10}
    assert counts[(0, 1)] == 8 and counts[(8, 9)] == 2


def test_digits_as_frame():
    pd = pytest.importorskip("pandas")
    data = make_multilabel_digits(n_per_singleton=2, n_per_set=1, as_frame=True, random_state=0)
    assert isinstance(data.data, pd.DataFrame) and isinstance(data.target, pd.DataFrame)
    assert list(data.target.columns) == [str(k) for k in range(10)]
    assert list(data.data.columns) == data.feature_names
    assert data.frame.shape == (65, 266)
    X, Y = make_multilabel_digits(
        n_per_singleton=2, n_per_set=1, as_frame=True, return_X_y=True, random_state=0
    )
    pd.testing.assert_frame_equal(X, data.data)
    pd.testing.assert_frame_equal(Y, data.target)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subset": "validation"},
        {"image_shape": "3d"},
        {"image_shape": "2d", "as_frame": True},
        {"max_multiplicity": 5},
        {"max_multiplicity": 0},
        {"n_per_singleton": 0},
        {"n_per_singleton": 2.5},
        {"n_per_set": -1},
        {"n_per_set": {3: 2}},
        {"imbalance": 0.5},
        {"imbalance": "big"},
        {"n_sets_per_multiplicity": 0},
        {"label_sets": [(1, 1)]},
        {"label_sets": [(1, 2.0)]},
        {"label_sets": [3]},
        {"max_multiplicity": 3, "n_per_set": {2: 5}},
        {"label_sets": [(0, 10)]},
        {"label_sets": [()]},
        {"label_sets": []},
        {"label_sets": [(0, 1, 2)]},
        {"label_sets": [(0, 1), (1, 0)]},
        {"label_sets": [(0, 1)], "n_sets_per_multiplicity": 3},
        {"n_per_set": {2: 0}},
        {"n_sets_per_multiplicity": {2: 1.5}},
        {"imbalance": {2: 0.5}},
        {"imbalance": float("nan")},
        {"shuffle": "yes"},
        {"return_X_y": 1},
        {"random_state": -1},
    ],
)
def test_digits_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_multilabel_digits(**kwargs)


# ---------------------------------------------------------------------------------------------
# make_tagwise_blobs
# ---------------------------------------------------------------------------------------------


def _empirical_means(X, Y):
    means = {}
    for label_set in _set_counts(Y):
        mask = np.all(Y == np.isin(np.arange(Y.shape[1]), label_set), axis=1)
        means[label_set] = X[mask].mean(axis=0)
    return means


def test_blobs_shapes_counts_and_etf():
    X, Y, centers = make_tagwise_blobs(
        n_classes=4,
        n_features=7,
        n_per_singleton=30,
        n_per_set=10,
        random_state=0,
        return_centers=True,
    )
    assert X.shape == (4 * 30 + 6 * 10, 7) and Y.shape == (180, 4)
    assert Y.dtype == np.int64
    counts = _set_counts(Y)
    assert {counts[(k,)] for k in range(4)} == {30}
    assert {n for s, n in counts.items() if len(s) == 2} == {10}
    assert set(centers) == set(counts)
    singles = np.array([centers[(k,)] for k in range(4)])
    gram = singles @ singles.T
    np.testing.assert_allclose(np.diag(gram), 1.0)
    np.testing.assert_allclose(gram[~np.eye(4, dtype=bool)], -1 / 3)


@pytest.mark.parametrize("scales", [None, (1.0, 0.6), {2: 1.7}, (2.0, 0.5, 0.3)])
def test_blobs_tagwise_average_holds_without_violation(scales):
    max_m = 3 if scales is not None and len(scales) == 3 else 2
    X, Y, centers = make_tagwise_blobs(
        n_classes=5,
        n_features=12,
        max_multiplicity=max_m,
        n_per_singleton=400,
        n_per_set=400,
        scales=scales,
        noise=0.1,
        random_state=0,
        return_centers=True,
    )
    c = {1: 1.0, 2: 1.0, 3: 1.0}
    if isinstance(scales, dict):
        c.update(scales)
    elif scales is not None:
        c.update(enumerate(scales, start=1))
    emp = _empirical_means(X, Y)
    vertices = {k: emp[(k,)] / c[1] for k in range(5)}
    for label_set, mean in emp.items():
        m = len(label_set)
        exact = c[m] * np.mean([centers[(k,)] / c[1] for k in label_set], axis=0)
        np.testing.assert_allclose(centers[label_set], exact, atol=1e-12)
        predicted = c[m] * np.mean([vertices[k] for k in label_set], axis=0)
        # empirical mean of 400 samples with noise 0.1: error ~ 0.1 * sqrt(12 / 400) ~ 0.02
        assert np.linalg.norm(mean - predicted) < 0.08


@pytest.mark.parametrize("violate", [0.3, 1.0])
def test_blobs_violation_moves_set_means(violate):
    X, Y, centers = make_tagwise_blobs(
        n_classes=5,
        n_features=10,
        n_per_singleton=400,
        n_per_set=400,
        noise=0.1,
        violate=violate,
        random_state=0,
        return_centers=True,
    )
    emp = _empirical_means(X, Y)
    for label_set, mean in emp.items():
        if len(label_set) == 1:
            continue
        prototype = np.mean([emp[(k,)] for k in label_set], axis=0)
        exact_proto = np.mean([centers[(k,)] for k in label_set], axis=0)
        deviation = centers[label_set] - exact_proto
        np.testing.assert_allclose(
            np.linalg.norm(deviation), violate * np.linalg.norm(exact_proto), rtol=1e-10
        )
        assert abs(deviation @ exact_proto) < 1e-10  # orthogonal: angle arctan(violate)
        assert np.linalg.norm(mean - prototype) > 0.5 * violate * np.linalg.norm(exact_proto)


def test_blobs_full_label_set_violation_uses_scale():
    _, _, centers = make_tagwise_blobs(
        n_classes=3,
        n_features=3,
        max_multiplicity=3,
        violate=0.5,
        random_state=0,
        return_centers=True,
    )
    np.testing.assert_allclose(np.linalg.norm(centers[(0, 1, 2)]), 0.5)


def test_blobs_determinism():
    a = make_tagwise_blobs(random_state=3)
    b = make_tagwise_blobs(random_state=3)
    c = make_tagwise_blobs(random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_classes": 1},
        {"n_classes": 5, "n_features": 4},
        {"noise": -1.0},
        {"violate": -0.1},
        {"violate": float("nan")},
        {"center_norm": 0.0},
        {"scales": (1.0,)},
        {"scales": (1.0, -2.0)},
        {"scales": {4: 1.0}},
        {"max_multiplicity": 6},
        {"n_per_set": 0},
        {"n_features": 2.5},
        {"noise": float("inf")},
        {"center_norm": -1.0},
        {"scales": {2: float("nan")}},
        {"scales": "big"},
        {"return_centers": 1},
        {"random_state": "seed"},
    ],
)
def test_blobs_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_tagwise_blobs(**kwargs)


@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (make_multilabel_digits, {"subset": "validation"}, r"'subset' parameter .* 'validation'"),
        (make_multilabel_digits, {"n_per_singleton": 0}, r"'n_per_singleton' parameter"),
        (make_multilabel_digits, {"n_per_set": {2: 0}}, r"n_per_set\[2\] must be an integer"),
        (make_multilabel_digits, {"imbalance": {2: 0.5}}, r"imbalance\[2\] must be a real"),
        (make_multilabel_digits, {"max_multiplicity": 5}, r"max_multiplicity must be <= 4"),
        (make_tagwise_blobs, {"noise": -1.0}, r"'noise' parameter .* \[0.0, inf\)"),
        (make_tagwise_blobs, {"n_features": 3}, r"n_features must be >= n_classes=5"),
        (make_tagwise_blobs, {"random_state": "seed"}, r"'random_state' parameter"),
    ],
)
def test_bad_arguments_name_the_parameter(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


@pytest.mark.parametrize("func", [make_multilabel_digits, make_tagwise_blobs])
def test_generators_accept_every_kind_of_random_state(func):
    small = {"n_per_singleton": 2, "n_per_set": 1}
    a = func(**small, random_state=5)
    b = func(**small, random_state=np.random.RandomState(5))
    c = func(**small, random_state=np.random.default_rng(5))
    first = (lambda out: out.data) if func is make_multilabel_digits else (lambda out: out[0])
    np.testing.assert_array_equal(first(a), first(b))
    assert first(c).shape == first(a).shape
