"""Tests of CollapseStatistics: streaming, merging, stability, input types and errors."""

import functools
import itertools
import math
import operator
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_mlabnc.collapse import CollapseStatistics, collapse_report, nc1, nc2

OPTION_GRID = [
    dict(classes=c, inverse=i, global_mean=g)
    for c, i, g in itertools.product(
        ["singletons", "label_sets"], ["pinv", "svd"], ["weighted", "class_means", "paper"]
    )
]


def make_data(seed=0, K=4, d=12, n_empty=3, offset=0.0):
    """Random multi-label data: all singletons, some pairs and triples, a few empty rows."""
    rng = np.random.default_rng(seed)
    sets = [(k,) for k in range(K)]
    sets += [p for p in itertools.combinations(range(K), 2)][: K + 1]
    sets += [t for t in itertools.combinations(range(K), 3)][:2]
    rows, feats = [], []
    centers = {S: rng.normal(size=d) * 3 for S in sets}
    for S in sets:
        n_S = int(rng.integers(3, 9))
        for _ in range(n_S):
            y = np.zeros(K, dtype=int)
            y[list(S)] = 1
            rows.append(y)
            feats.append(centers[S] + rng.normal(size=d))
    for _ in range(n_empty):
        rows.append(np.zeros(K, dtype=int))
        feats.append(rng.normal(size=d))
    perm = rng.permutation(len(rows))
    H = np.array(feats)[perm] + offset
    Y = np.array(rows)[perm]
    W = rng.normal(size=(K, d))
    return H, Y, W


def within_scatter(st, key, sel):
    """Shift-independent within-set scatter of the selected multiplicities."""
    s = st.summary()
    mask = sel(s.multiplicities)
    sums, counts = s.sums[mask], s.counts[mask]
    return getattr(s, key) - (sums.T / counts) @ sums


def scalars(rep):
    d = rep.to_dict()
    return {k: v for k, v in d.items() if isinstance(v, float)}


def assert_reports_close(r1, r2, rtol=1e-10, atol=1e-12):
    a, b = scalars(r1), scalars(r2)
    assert a.keys() == b.keys()
    for k in a:
        if math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert b[k] == pytest.approx(a[k], rel=rtol, abs=atol), k


def test_counts_sets_and_means():
    H, Y, _ = make_data()
    st = CollapseStatistics().partial_fit(H, Y)
    assert st.n_samples_ == len(H)
    assert st.n_labels_ == Y.shape[1] and st.n_features_in_ == H.shape[1]
    keys = [tuple(np.flatnonzero(r)) for r in Y]
    uniq = sorted(set(keys), key=lambda t: (len(t), t))
    assert [tuple(np.flatnonzero(r)) for r in st.label_sets_] == uniq
    for j, S in enumerate(uniq):
        rows = [i for i, k in enumerate(keys) if k == S]
        assert st.counts_[j] == len(rows)
        assert st.multiplicities_[j] == len(S)
        np.testing.assert_allclose(st.means_[j], H[rows].mean(axis=0), rtol=1e-12, atol=1e-12)
    assert st.label_sets_.dtype == bool
    assert st.counts_.sum() == len(H)


@pytest.mark.parametrize("batch", [1, 7, 50])
def test_batched_equals_one_shot(batch):
    H, Y, W = make_data(seed=1)
    one = CollapseStatistics().partial_fit(H, Y)
    st = CollapseStatistics()
    for a in range(0, len(H), batch):
        st.partial_fit(H[a : a + batch], Y[a : a + batch])
    np.testing.assert_array_equal(st.counts_, one.counts_)
    np.testing.assert_allclose(st.means_, one.means_, rtol=1e-12, atol=1e-12)
    for opts in OPTION_GRID:
        assert_reports_close(collapse_report(one, W=W, **opts), collapse_report(st, W=W, **opts))


def test_internal_chunking_equals_one_shot():
    H, Y, W = make_data(seed=2)
    a = CollapseStatistics().partial_fit(H, Y)
    b = CollapseStatistics(chunk_size=5).partial_fit(H, Y)
    assert_reports_close(collapse_report(a, W=W), collapse_report(b, W=W))


@pytest.mark.parametrize("splits", [(10,), (13, 40), (5, 30, 61)])
def test_merge_any_order(splits):
    H, Y, W = make_data(seed=3)
    one = CollapseStatistics().partial_fit(H, Y)
    bounds = [0, *splits, len(H)]
    parts = [
        CollapseStatistics().partial_fit(H[a:b] + 0.0, Y[a:b])
        for a, b in itertools.pairwise(bounds)
    ]
    for perm in itertools.permutations(range(len(parts))):
        merged = CollapseStatistics()
        for i in perm:
            merged.merge(parts[i])
        np.testing.assert_array_equal(merged.counts_, one.counts_)
        np.testing.assert_allclose(merged.means_, one.means_, rtol=1e-12, atol=1e-12)
        for opts in OPTION_GRID[::3]:
            assert_reports_close(
                collapse_report(one, W=W, **opts), collapse_report(merged, W=W, **opts)
            )
    # associativity with the operator form, and sum()
    left = functools.reduce(operator.add, parts)
    right = parts[0] + functools.reduce(operator.add, parts[1:], CollapseStatistics())
    assert_reports_close(collapse_report(left), collapse_report(right))
    assert_reports_close(collapse_report(sum(parts), W=W), collapse_report(one, W=W))


def test_merge_reconciles_different_shifts_exactly():
    H, Y, W = make_data(seed=4)
    one = CollapseStatistics().partial_fit(H, Y)
    # the second part has a very different shift (its own first-chunk mean)
    a = CollapseStatistics().partial_fit(H[:30], Y[:30])
    b = CollapseStatistics().partial_fit(H[30:], Y[30:])
    assert not np.allclose(a.shift_, b.shift_)
    m = a + b
    for key, sel in [
        ("scatter_single", lambda mu: mu == 1),
        ("scatter_multi", lambda mu: mu >= 2),
    ]:
        np.testing.assert_allclose(
            within_scatter(m, key, sel), within_scatter(one, key, sel), rtol=1e-10, atol=1e-9
        )
    assert_reports_close(collapse_report(one, W=W), collapse_report(m, W=W))
    # the operands are not modified by +
    assert a.n_samples_ == 30 and b.n_samples_ == len(H) - 30


def test_merge_with_unfitted_and_self():
    H, Y, _ = make_data(seed=5)
    st = CollapseStatistics().partial_fit(H, Y)
    assert (CollapseStatistics() + st).n_samples_ == st.n_samples_
    assert (st + CollapseStatistics()).n_samples_ == st.n_samples_
    double = CollapseStatistics().partial_fit(np.vstack([H, H]), np.vstack([Y, Y]))
    st2 = st + st
    np.testing.assert_array_equal(st2.counts_, double.counts_)
    assert collapse_report(st2).nc1 == pytest.approx(collapse_report(double).nc1, rel=1e-10)


@pytest.mark.parametrize("classes", ["singletons", "label_sets"])
@pytest.mark.parametrize("inverse", ["pinv", "svd"])
def test_large_offset_is_stable(classes, inverse):
    H, Y, W = make_data(seed=6)
    base = nc1(H, Y, classes=classes, inverse=inverse)
    shifted = nc1(H + 1e6, Y, classes=classes, inverse=inverse)
    assert abs(shifted - base) / base < 1e-6
    # batched and merged with the offset too
    st = CollapseStatistics()
    for a in range(0, len(H), 11):
        st.partial_fit(H[a : a + 11] + 1e6, Y[a : a + 11])
    v = collapse_report(st, classes=classes, inverse=inverse).nc1
    assert abs(v - base) / base < 1e-6
    # centred NC2 is translation invariant as well
    assert nc2(H + 1e6, Y).means == pytest.approx(nc2(H, Y).means, rel=1e-6)


def test_torch_input_matches_numpy():
    torch = pytest.importorskip("torch")
    H, Y, W = make_data(seed=7)
    ref = CollapseStatistics().partial_fit(H, Y)
    for Ht, Yt in [
        (torch.from_numpy(H), torch.from_numpy(Y)),
        (torch.from_numpy(H), Y),
        (torch.from_numpy(H), torch.from_numpy(Y).bool()),
        (torch.from_numpy(H), torch.from_numpy(Y).float()),
    ]:
        st = CollapseStatistics(chunk_size=17).partial_fit(Ht, Yt)
        np.testing.assert_array_equal(st.counts_, ref.counts_)
        np.testing.assert_allclose(st.means_, ref.means_, rtol=1e-12, atol=1e-12)
        assert_reports_close(collapse_report(ref, W=W), collapse_report(st, W=torch.from_numpy(W)))
    # float32 tensors are reduced in float64
    st32 = CollapseStatistics().partial_fit(torch.from_numpy(H).float(), torch.from_numpy(Y))
    ref32 = CollapseStatistics().partial_fit(H.astype(np.float32), Y)
    assert_reports_close(collapse_report(ref32), collapse_report(st32))
    # mixing torch and numpy batches
    mixed = CollapseStatistics().partial_fit(torch.from_numpy(H[:40]), Y[:40])
    mixed.partial_fit(H[40:], Y[40:])
    assert_reports_close(collapse_report(ref, W=W), collapse_report(mixed, W=W))


def test_sparse_inputs_match_dense():
    H, Y, W = make_data(seed=8)
    H[np.abs(H) < 1] = 0.0
    ref = CollapseStatistics().partial_fit(H, Y)
    st = CollapseStatistics(chunk_size=13).partial_fit(sp.csr_matrix(H), sp.csc_matrix(Y))
    np.testing.assert_array_equal(st.counts_, ref.counts_)
    assert_reports_close(collapse_report(ref, W=W), collapse_report(st, W=W))


def test_bool_and_float_indicators_equivalent():
    H, Y, _ = make_data(seed=9)
    a = CollapseStatistics().partial_fit(H, Y.astype(bool))
    b = CollapseStatistics().partial_fit(H, Y.astype(float))
    assert_reports_close(collapse_report(a), collapse_report(b))


def test_many_labels_packed_keys():
    rng = np.random.default_rng(10)
    K, d = 70, 5  # more than 64 labels: the multi-byte unique path
    Y = np.zeros((40, K), dtype=int)
    Y[np.arange(40), rng.integers(0, K, 40)] = 1
    Y[::4, -1] = 1
    H = rng.normal(size=(40, d))
    st = CollapseStatistics().partial_fit(H[:17], Y[:17]).partial_fit(H[17:], Y[17:])
    uniq = {tuple(np.flatnonzero(r)) for r in Y}
    assert st.label_sets_.shape == (len(uniq), K)
    assert {tuple(np.flatnonzero(r)) for r in st.label_sets_} == uniq
    keys = [tuple(np.flatnonzero(r)) for r in Y]
    for s, c in zip(st.label_sets_, st.counts_, strict=True):
        assert keys.count(tuple(np.flatnonzero(s))) == c


def test_empty_label_rows_kept_and_excluded():
    H, Y, W = make_data(seed=11, n_empty=0)
    rng = np.random.default_rng(0)
    He = np.vstack([H, rng.normal(size=(5, H.shape[1])) * 100])
    Ye = np.vstack([Y, np.zeros((5, Y.shape[1]), dtype=int)])
    st = CollapseStatistics().partial_fit(He, Ye)
    assert st.n_samples_ == len(He)
    assert st.multiplicities_[0] == 0 and st.counts_[0] == 5
    ref = CollapseStatistics().partial_fit(H, Y)
    for classes in ["singletons", "label_sets"]:
        assert collapse_report(st, classes=classes).nc1 == pytest.approx(
            collapse_report(ref, classes=classes).nc1, rel=1e-10
        )
    assert any("no positive label" in n for n in collapse_report(st).notes)


def test_memory_independent_of_n():
    rng = np.random.default_rng(12)
    K, d = 5, 8
    st = CollapseStatistics(chunk_size=256)
    for _ in range(20):
        Y = np.eye(K, dtype=int)[rng.integers(0, K, 1000)]
        st.partial_fit(rng.normal(size=(1000, d)), Y)
    nbytes = sum(
        getattr(st, a).nbytes for a in ("_sums", "_T1", "_TM", "_counts", "_sets", "_mult")
    )
    assert st.n_samples_ == 20000
    assert nbytes < 4096


def test_pickle_and_repr():
    H, Y, W = make_data(seed=13)
    st = CollapseStatistics().partial_fit(H, Y)
    st2 = pickle.loads(pickle.dumps(st))
    assert_reports_close(collapse_report(st, W=W), collapse_report(st2, W=W))
    assert "n_samples" in repr(st)
    assert repr(CollapseStatistics()) == "CollapseStatistics(dtype='auto')"
    assert repr(CollapseStatistics(np.float32)) == "CollapseStatistics(dtype='float32')"


def test_float32_accumulation_close():
    H, Y, W = make_data(seed=14)
    a = collapse_report(CollapseStatistics().partial_fit(H, Y)).nc1
    b = collapse_report(CollapseStatistics(dtype=np.float32).partial_fit(H, Y)).nc1
    assert b == pytest.approx(a, rel=1e-4)


def test_empty_batch_is_noop():
    H, Y, _ = make_data(seed=15)
    st = CollapseStatistics().partial_fit(H[:0], Y[:0])
    assert st.n_samples_ == 0
    st.partial_fit(H, Y)
    ref = CollapseStatistics().partial_fit(H, Y)
    assert_reports_close(collapse_report(st), collapse_report(ref))


def test_collapse_report_equals_stats_report():
    H, Y, W = make_data(seed=16)
    a = collapse_report(H, Y, W)
    b = collapse_report(CollapseStatistics().partial_fit(H, Y), W=W)
    for k in ["nc1", "nc2_means", "nc2_classifier", "nc3"]:
        assert getattr(a, k) == pytest.approx(getattr(b, k), rel=1e-12)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("H", "Y", "match"),
    [
        (np.zeros((4, 3)), np.zeros((5, 2)), "H has 4 rows but Y has 5"),
        (np.zeros(4), np.zeros((4, 2)), "H must be 2-D"),
        (np.zeros((4, 3)), np.zeros((4, 2, 1)), "Y must be a 2-D"),
        (np.zeros((4, 3)), np.zeros(4), "1-D class labels must be integers"),
        (np.zeros((2, 3)), np.array([0, -1]), "must lie in 0 .. 0"),
        (np.zeros((4, 3)), np.zeros(5, dtype=int), "H has 4 rows but Y has 5"),
        (np.zeros((2, 3)), np.array([[0, 2], [1, 0]]), "0/1 indicator"),
        (np.zeros((2, 3)), np.array([[0.5, 1], [1, 0]]), "0/1 indicator"),
        (np.zeros((2, 3)), np.array([[np.nan, 1], [1, 0]]), "0/1 indicator"),
        (np.array([[0, np.nan, 0], [1, 1, 1]]), np.eye(2), "NaN or infinity"),
        (np.array([[0, np.inf, 0], [1, 1, 1]]), np.eye(2), "NaN or infinity"),
        (np.array([["a"], ["b"]]), np.eye(2), "numeric"),
    ],
)
def test_bad_inputs(H, Y, match):
    with pytest.raises(ValueError, match=match):
        CollapseStatistics().partial_fit(H, Y)


def test_bad_sparse_and_torch_inputs():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="0/1 indicator"):
        CollapseStatistics().partial_fit(np.zeros((2, 2)), sp.csr_matrix([[2, 0], [0, 1]]))
    with pytest.raises(ValueError, match="NaN or infinity"):
        CollapseStatistics().partial_fit(sp.csr_matrix([[np.nan, 0], [0, 1]]), np.eye(2))
    with pytest.raises(ValueError, match="NaN or infinity"):
        CollapseStatistics().partial_fit(torch.tensor([[np.nan, 0], [0, 1.0]]), np.eye(2))
    with pytest.raises(ValueError, match="0/1 indicator"):
        CollapseStatistics().partial_fit(torch.zeros(2, 2), torch.tensor([[3, 0], [0, 1]]))


def test_mismatch_between_batches_and_merges():
    H, Y, _ = make_data(seed=17)
    st = CollapseStatistics().partial_fit(H, Y)
    before = collapse_report(st).nc1
    with pytest.raises(ValueError, match="Y has K=5 labels but earlier batches had K=4"):
        st.partial_fit(H[:3], np.hstack([Y[:3], Y[:3, :1]]))
    with pytest.raises(ValueError, match="H has d=11 features but earlier batches had d=12"):
        st.partial_fit(H[:3, :-1], Y[:3])
    bad = H[:5].copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        st.partial_fit(bad, Y[:5])
    assert st.n_samples_ == len(H) and collapse_report(st).nc1 == before  # unchanged on error
    other = CollapseStatistics().partial_fit(np.zeros((2, 12)), np.eye(2, 5))
    with pytest.raises(ValueError, match="cannot merge statistics with K=5 into K=4"):
        st.merge(other)
    other = CollapseStatistics().partial_fit(np.zeros((2, 3)), np.eye(2, 4))
    with pytest.raises(ValueError, match="cannot merge statistics with d=3 into d=12"):
        st.merge(other)
    with pytest.raises(TypeError, match="can only merge"):
        st.merge(3)
    with pytest.raises(ValueError, match="dtype must be .auto., float64 or float32"):
        CollapseStatistics(dtype=np.int32).partial_fit(H, Y)


def test_unfitted_attributes_raise():
    st = CollapseStatistics()
    with pytest.raises(AttributeError, match="not fitted"):
        _ = st.means_
    with pytest.raises(AttributeError, match="not fitted"):
        collapse_report(st)


# ------------------------------------------------------------------------- batches
def test_from_batches_of_a_dataloader_match_in_memory():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    H, Y, W = make_data(seed=11, offset=50.0)
    Ht, Yt = torch.from_numpy(H), torch.from_numpy(Y.astype(np.float32))
    ref = CollapseStatistics().partial_fit(H, Y)
    stats = CollapseStatistics.from_batches(DataLoader(TensorDataset(Ht, Yt), batch_size=7))
    assert stats.n_samples_ == len(H)
    assert_reports_close(collapse_report(stats, W=W), collapse_report(ref, W=W))
    np.testing.assert_allclose(stats.means_, ref.means_, rtol=1e-12)
    # shuffled batches, numpy batches from a generator, and a feature transform
    shuffled = DataLoader(
        TensorDataset(Ht, Yt),
        batch_size=5,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    assert_reports_close(
        collapse_report(CollapseStatistics.from_batches(shuffled)), collapse_report(ref)
    )
    gen = ((H[a : a + 9] / 2, Y[a : a + 9], "ignored") for a in range(0, len(H), 9))
    halved = CollapseStatistics.from_batches(gen, transform=lambda h: 2 * h)
    assert_reports_close(collapse_report(halved), collapse_report(ref))


def test_from_batches_errors():
    with pytest.raises(ValueError, match="empty"):
        CollapseStatistics.from_batches([])
    with pytest.raises(ValueError, match=r"\(H, Y\) pair"):
        CollapseStatistics.from_batches([np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"\(H, Y\) pair"):
        CollapseStatistics.from_batches([{"H": np.zeros((2, 2)), "Y": np.eye(2)}])
