"""Tests for sklearn_mlabnc.datasets."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

from sklearn_mlabnc.datasets import load_mulan, make_multilabel_digits, make_tagwise_blobs

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

_DIGITS = load_digits()
_CORNER_OFFSETS = {0: (0, 0), 1: (0, 8), 2: (8, 0), 3: (8, 8)}


def _set_counts(Y) -> Counter:
    return Counter(tuple(np.flatnonzero(row).tolist()) for row in np.asarray(Y))


def _shared_dir() -> Path:
    env = os.environ.get("MLABNC_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared"


def _mulan_dir() -> Path:
    directory = _shared_dir() / "data" / "mulan"
    if not directory.is_dir():
        pytest.skip(
            f"shared MULAN data not found at {directory} (set MLABNC_SHARED_DIR to the "
            "directory holding data/mulan/)"
        )
    return directory


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
    ],
)
def test_blobs_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_tagwise_blobs(**kwargs)


# ---------------------------------------------------------------------------------------------
# load_mulan: shared benchmark files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "split", "n_samples", "n_features", "n_labels"),
    [
        ("emotions", "train", 391, 72, 6),
        ("emotions", "test", 202, 72, 6),
        ("yeast", "train", 1500, 103, 14),
        ("yeast", "test", 917, 103, 14),
    ],
)
def test_load_mulan_shared(name, split, n_samples, n_features, n_labels):
    directory = _mulan_dir()
    path = directory / f"{name}-{split}.arff"
    data = load_mulan(path)
    assert data.data.shape == (n_samples, n_features)
    assert data.data.dtype == np.float64
    assert data.target.shape == (n_samples, n_labels)
    assert data.target.dtype == np.int64
    assert set(np.unique(data.target)) == {0, 1}
    assert np.isfinite(data.data).all()
    xml_names = [
        el.attrib["name"]
        for el in ET.parse(directory / f"{name}.xml").getroot().iter()
        if el.tag.endswith("label")
    ]
    assert set(data.target_names) == set(xml_names)
    assert Path(data.xml_filename) == directory / f"{name}.xml"
    by_xml = load_mulan(path, directory / f"{name}.xml", label_order="xml")
    assert by_xml.target_names == xml_names
    order = [data.target_names.index(n) for n in xml_names]
    np.testing.assert_array_equal(by_xml.target, data.target[:, order])

    # independent parse: the files are dense with the labels as the last columns
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    raw = np.loadtxt(lines[start + 1 :], delimiter=",")
    np.testing.assert_allclose(data.data, raw[:, :n_features])
    np.testing.assert_array_equal(data.target, raw[:, n_features:].astype(int))


def test_load_mulan_shared_return_X_y_and_frame():
    directory = _mulan_dir()
    X, Y = load_mulan(directory / "emotions-test.arff", return_X_y=True)
    assert X.shape == (202, 72) and Y.shape == (202, 6)
    pd = pytest.importorskip("pandas")
    frame = load_mulan(directory / "emotions-test.arff", as_frame=True)
    assert isinstance(frame.data, pd.DataFrame)
    assert list(frame.target.columns) == frame.target_names
    assert frame.frame.shape == (202, 78)
    Xs = load_mulan(directory / "emotions-test.arff", sparse=True).data
    assert sp.issparse(Xs)
    np.testing.assert_allclose(Xs.toarray(), X)


# ---------------------------------------------------------------------------------------------
# load_mulan: hand-written files
# ---------------------------------------------------------------------------------------------

_XML = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<labels xmlns="http://mulan.sourceforge.net/labels">\n'
    '<label name="beta"></label>\n<label name="alpha label"></label>\n</labels>\n'
)

_HEADER = """% a comment
@RELATION 'toy data'

@attribute 'first feature' numeric
@attribute beta {0,1}
@ATTRIBUTE f2 REAL
% another comment
@attribute "alpha label" {0, 1}
@attribute colour {red,'dark blue',green}
@attribute f3 integer
@data
"""

_DENSE_ROWS = """1.5,1,-2,0,red,3,{0.5}
% comment inside data
0,0,0,1,'dark blue',0

?,1,4e-1,1,green,7
"""

_SPARSE_ROWS = """{0 1.5, 1 1, 2 -2, 5 3}
{ 3 1 , 4 'dark blue' }, {2.5}
{0 ?, 1 1, 2 4e-1, 3 1, 4 green, 5 7}
"""


def _write(directory: Path, name: str, rows: str, xml: str = _XML, header: str = _HEADER):
    (directory / "toy.xml").write_text(xml)
    path = directory / name
    path.write_text(header + rows)
    return path


@pytest.mark.parametrize("rows", [_DENSE_ROWS, _SPARSE_ROWS], ids=["dense", "sparse"])
def test_load_mulan_dense_and_sparse_rows(tmp_path, rows):
    data = load_mulan(_write(tmp_path, "toy-test.arff", rows))
    assert data.feature_names == ["first feature", "f2", "colour", "f3"]
    assert data.target_names == ["beta", "alpha label"]  # ARFF order
    expected = np.array([[1.5, -2, 0, 3], [0, 0, 1, 0], [np.nan, 0.4, 2, 7]])
    np.testing.assert_array_equal(data.data, expected)
    np.testing.assert_array_equal(data.target, [[1, 0], [0, 1], [1, 1]])
    by_xml = load_mulan(tmp_path / "toy-test.arff", label_order="xml")
    assert by_xml.target_names == ["beta", "alpha label"]


def test_load_mulan_sparse_output_and_label_order(tmp_path):
    xml = (
        _XML.replace('"beta"', '"tmp"')
        .replace('"alpha label"', '"beta"')
        .replace('"tmp"', '"alpha label"')
    )
    path = _write(tmp_path, "toy.arff", _SPARSE_ROWS, xml=xml)
    data = load_mulan(path, sparse=True)
    assert sp.issparse(data.data) and data.data.format == "csr"
    assert data.target_names == ["beta", "alpha label"]
    xml_order = load_mulan(path, label_order="xml")
    assert xml_order.target_names == ["alpha label", "beta"]
    np.testing.assert_array_equal(xml_order.target, data.target[:, ::-1])
    np.testing.assert_array_equal(data.data.toarray(), xml_order.data)


def test_load_mulan_explicit_xml_and_reversed_nominal_labels(tmp_path):
    header = _HEADER.replace("@attribute beta {0,1}", "@attribute beta {1,0}")
    path = _write(
        tmp_path, "weird-name.arff", "{3 1, 4 'dark blue'}\n1,0,0,0,red,0\n", header=header
    )
    with pytest.raises(FileNotFoundError, match="XML"):
        load_mulan(path)
    data = load_mulan(path, tmp_path / "toy.xml")
    # sparse omitted nominal value = first declared value ('1'); dense '0' -> 0
    np.testing.assert_array_equal(data.target, [[1, 1], [0, 0]])


_MALFORMED = [
    (_HEADER, "1.5,1,-2,0,red\n", r"toy\.arff:12: row has 5 values"),
    (_HEADER, "1.5,1,abc,0,red,3\n", r":12: .*'abc' is not a number"),
    (_HEADER, "1.5,1,-2,0,purple,3\n", r":12: .*'purple' is not one of"),
    (_HEADER, "{0 1.5, 9 1}\n", r":12: sparse index 9 outside"),
    (_HEADER, "{0 1.5, 0 2}\n", r":12: sparse index 0 given twice"),
    (_HEADER, "{0 1.5, 1 1\n", r":12: sparse row without closing"),
    (_HEADER, "{x 1.5}\n", r":12: sparse index 'x'"),
    (_HEADER, "{0 1.5} junk\n", r":12: unexpected text after sparse row"),
    (_HEADER, "1.5,1,-2,0,'red,3\n", r":12: unterminated quote"),
    (_HEADER, "1.5,?,-2,0,red,3\n", r"label attribute 'beta' has missing values"),
    (_HEADER.replace("@data\n", ""), "", r"no @data section"),
    (_HEADER.replace("f3 integer", "f3 string"), "", r":10: .*'string' is not supported"),
    (_HEADER.replace("f3 integer", "f3 blob"), "", r":10: .*unknown type"),
    (_HEADER.replace("f3 integer", "f2 numeric"), "", r":10: duplicate attribute"),
    (_HEADER.replace("f3 integer", "f3"), "", r":10: attribute 'f3' has no type"),
    (_HEADER.replace("{red,'dark blue',green}", "{red"), "", r":9: .*missing closing"),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute beta {a,b}"),
        "",
        r"label attribute 'beta' must have values",
    ),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute beta numeric"),
        "1.5,2,-2,0,red,3\n",
        r"label attribute 'beta' has values other than 0/1",
    ),
    (
        _HEADER.replace("@attribute beta {0,1}", "@attribute gamma {0,1}"),
        "",
        r"labels \['beta'\] are not attributes",
    ),
    ("@relation x\nnonsense here\n", "", r":2: unexpected header line"),
    (_HEADER, "@attribute late numeric\n", r":12: unexpected '@attribute' inside @data"),
]


@pytest.mark.parametrize(("header", "rows", "match"), _MALFORMED, ids=[m for *_, m in _MALFORMED])
def test_load_mulan_malformed(tmp_path, header, rows, match):
    path = _write(tmp_path, "toy.arff", rows, header=header)
    with pytest.raises(ValueError, match=match):
        load_mulan(path)


def test_load_mulan_missing_files_and_bad_xml(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.arff"):
        load_mulan(tmp_path / "nope.arff")
    path = _write(tmp_path, "toy.arff", _DENSE_ROWS)
    with pytest.raises(FileNotFoundError, match="other.xml"):
        load_mulan(path, tmp_path / "other.xml")
    (tmp_path / "bad.xml").write_text("<labels><label name='beta'></labels>")
    with pytest.raises(ValueError, match=r"bad\.xml: malformed XML"):
        load_mulan(path, tmp_path / "bad.xml")
    (tmp_path / "empty.xml").write_text("<labels></labels>")
    with pytest.raises(ValueError, match="no <label"):
        load_mulan(path, tmp_path / "empty.xml")


@pytest.mark.parametrize(
    "kwargs", [{"as_frame": True, "sparse": True}, {"label_order": "alphabetical"}]
)
def test_load_mulan_bad_arguments(tmp_path, kwargs):
    path = _write(tmp_path, "toy.arff", _DENSE_ROWS)
    with pytest.raises(ValueError):
        load_mulan(path, **kwargs)


def test_datasets_import_nothing_else_from_the_package():
    import ast

    package = Path(__file__).resolve().parents[1] / "sklearn_mlabnc" / "datasets"
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.level > 0 or not node.module.startswith("sklearn_mlabnc"), source
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("sklearn_mlabnc") for a in node.names), source
