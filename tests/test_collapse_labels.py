"""Tests of the label helpers: indicator conversion and validation, label sets and order."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sklearn_mlabnc.collapse._labels import (
    IndicatorMatrix,
    as_indicator,
    canonical_order,
    check_indicator,
    unique_rows,
)


def test_as_indicator_one_hot_encodes_1d_labels_in_sorted_order():
    y = np.array(["dog", "cat", "owl", "cat"])
    ind, classes = as_indicator(y)
    np.testing.assert_array_equal(classes, ["cat", "dog", "owl"])
    expected = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(ind, expected)
    assert ind.dtype == np.int8


def test_as_indicator_with_given_classes_and_unknown_labels():
    ind, classes = as_indicator([2, 0], classes=np.array([0, 1, 2]))
    np.testing.assert_array_equal(ind, [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(classes, [0, 1, 2])
    with pytest.raises(ValueError, match=r"has classes \[7\] that are not among"):
        as_indicator([0, 7], classes=np.array([0, 1]))


def test_as_indicator_keeps_2d_dense_sparse_and_dataframe():
    Y = np.array([[1, 0], [1, 1]])
    ind, classes = as_indicator(Y)
    assert classes is None and ind is not None
    np.testing.assert_array_equal(ind, Y)
    ind, classes = as_indicator(sp.csr_matrix(Y))
    assert classes is None and sp.issparse(ind)
    np.testing.assert_array_equal(ind.toarray(), Y)
    ind, _ = as_indicator(pd.DataFrame(Y, columns=["a", "b"]))
    np.testing.assert_array_equal(ind, Y)
    with pytest.raises(ValueError, match="1-D array of classes or a 2-D label indicator"):
        as_indicator(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("kind", ["numpy", "bool", "sparse", "torch"])
def test_check_indicator_accepts_0_1_in_every_container(kind):
    Y = np.array([[1, 0, 1], [0, 0, 0]])
    if kind == "bool":
        Y = Y.astype(bool)
    elif kind == "sparse":
        Y = sp.csr_matrix(Y)
    elif kind == "torch":
        torch = pytest.importorskip("torch")
        Y = torch.tensor(Y, dtype=torch.float32)
    out = check_indicator(Y)
    assert tuple(out.shape) == (2, 3)
    ind = IndicatorMatrix(Y)
    assert (ind.n, ind.K, ind.kind) == (2, 3, {"bool": "numpy"}.get(kind, kind))
    np.testing.assert_array_equal(ind.numpy_chunk(0, 2), [[1, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize(
    "Y, match",
    [
        (np.array([[2, 0]]), "0/1 indicator"),
        (np.array([[0.5, 1.0]]), "0/1 indicator"),
        (np.array(["a", "b"]).reshape(1, 2), "0/1 indicator"),
        (np.array([1, 0]), "2-D"),
        (sp.csr_matrix(np.array([[3, 0]])), "0/1 indicator"),
    ],
)
def test_check_indicator_rejects_bad_values_and_shapes(Y, match):
    with pytest.raises(ValueError, match=match):
        check_indicator(Y, name="Y")
    with pytest.raises(ValueError, match=match):
        IndicatorMatrix(Y)


def test_check_indicator_names_the_argument():
    with pytest.raises(ValueError, match="^predictions must be a 0/1"):
        check_indicator([[2]], name="predictions")


@pytest.mark.parametrize("K", [3, 64, 70, 130])
def test_unique_rows_matches_numpy_unique(K):
    rng = np.random.default_rng(K)
    base = rng.random((7, K)) < 0.3
    Yb = base[rng.integers(0, 7, size=200)]
    packed, inv = unique_rows(Yb)
    rows = np.unpackbits(packed, axis=1, count=K).astype(bool)
    # every row is reproduced by its unique row, and the unique rows are distinct
    np.testing.assert_array_equal(rows[inv], Yb)
    assert len(rows) == len(np.unique(Yb, axis=0))


def test_canonical_order_sorts_by_multiplicity_then_labels():
    sets = [s for m in (2, 0, 1, 3) for s in itertools.combinations(range(3), m)]
    rows = np.zeros((len(sets), 3), dtype=bool)
    for i, s in enumerate(sets):
        rows[i, list(s)] = True
    ordered = [tuple(np.flatnonzero(rows[j]).tolist()) for j in canonical_order(rows)]
    assert ordered == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
