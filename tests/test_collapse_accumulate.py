"""Tests of the accumulation kernels: 1-D labels, float32 kernel, offsets, merging."""

import itertools

import numpy as np
import pytest
import torch

from sklearn_mlabnc.collapse import CollapseStatistics, nc1
from sklearn_mlabnc.collapse._accumulate import (
    centered_moments_numpy,
    class_indices,
    raw_moments_numpy,
    resolve_dtype,
)


def multiclass(seed=0, n=3000, d=16, K=6, within=1.0, offset=0.0):
    rng = np.random.default_rng(seed)
    means = 3.0 * rng.normal(size=(K, d))
    y = rng.integers(0, K, n)
    H = means[y] + within * rng.normal(size=(n, d)) + offset
    return H, y


def exact_moments(H, Y):
    """Independent float64 two-pass computation, per distinct row of Y (in sorted order)."""
    H = np.asarray(H, dtype=np.float64)
    sets, inv = np.unique(np.asarray(Y, dtype=bool), axis=0, return_inverse=True)
    inv = inv.ravel()
    counts = np.bincount(inv)
    means = np.stack([H[inv == s].mean(axis=0) for s in range(len(sets))])
    Xc = H - means[inv]
    mult = sets.sum(axis=1)[inv]
    Sw1 = Xc[mult == 1].T @ Xc[mult == 1]
    Swm = Xc[mult >= 2].T @ Xc[mult >= 2]
    return sets, counts, means, Sw1, Swm


def nc1_exact(H, y, K):
    H = np.asarray(H, dtype=np.float64)
    means = np.stack([H[y == k].mean(axis=0) for k in range(K)])
    Xc = H - means[y]
    Sw = Xc.T @ Xc / len(H)
    cnt = np.bincount(y, minlength=K)
    Mc = means - (cnt[:, None] * means).sum(axis=0) / cnt.sum()
    Sb = Mc.T @ Mc / K
    return float(np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10, hermitian=True)) / K)


def within_scatters(st):
    """Within-set scatters (single, multi) rebuilt from a statistics' summary."""
    s = st.summary()
    out = []
    for T, mask in (
        (s.scatter_single, s.multiplicities == 1),
        (s.scatter_multi, s.multiplicities >= 2),
    ):
        B = s.sums[mask]
        out.append(T - B.T @ (B / s.counts[mask, None]))
    return s, out


def batched(H, Y, size, dtype, torch_in=False):
    st = CollapseStatistics(dtype=dtype)
    for a in range(0, len(H), size):
        h, y = H[a : a + size], Y[a : a + size]
        if torch_in:
            h, y = torch.from_numpy(np.ascontiguousarray(h)), torch.from_numpy(np.asarray(y))
        st.partial_fit(h, y, n_labels=6) if np.ndim(Y) == 1 else st.partial_fit(h, y)
    return st


@pytest.mark.parametrize(
    ("dtype", "feat", "torch_in"),
    list(itertools.product([np.float32, np.float64], [np.float32, np.float64], [False, True])),
)
def test_fast_paths_match_independent_computation(dtype, feat, torch_in):
    H, y = multiclass(seed=1)
    H = H.astype(feat)
    st = batched(H, y, 700, dtype, torch_in)
    H64 = H.astype(np.float64)
    means = np.stack([H64[y == k].mean(axis=0) for k in range(6)])
    Xc = H64 - means[y]
    Sw1 = Xc.T @ Xc
    s, (W1, Wm) = within_scatters(st)
    np.testing.assert_array_equal(s.label_sets, np.eye(6, dtype=bool))  # canonical order
    np.testing.assert_array_equal(s.counts, np.bincount(y, minlength=6))
    np.testing.assert_allclose(s.means, means, rtol=0, atol=1e-6)
    rtol = 1e-6 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(W1, Sw1, rtol=0, atol=rtol * np.abs(Sw1).max())
    assert np.abs(Wm).max() <= 1e-12
    assert nc1(st) == pytest.approx(nc1_exact(H, y, 6), rel=1e-6 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multilabel_float32_kernel_matches_independent_computation(dtype):
    rng = np.random.default_rng(2)
    K, d, n = 5, 12, 4000
    pool = [(0,), (1,), (2,), (3,), (4,), (0, 1), (2, 3), (1, 2, 4)]
    Ysets = np.zeros((len(pool), K), dtype=bool)
    for i, S in enumerate(pool):
        Ysets[i, list(S)] = True
    centres = 3.0 * rng.normal(size=(len(pool), d))
    idx = rng.integers(0, len(pool), n)
    H = (centres[idx] + rng.normal(size=(n, d))).astype(np.float32)
    Y = Ysets[idx]
    st = batched(H, Y, 900, dtype)
    ref = batched(H.astype(np.float64), Y, 900, np.float64)
    _, (W1, Wm) = within_scatters(st)
    _, (R1, Rm) = within_scatters(ref)
    sets, counts, means, Sw1, Swm = exact_moments(H, Y)
    np.testing.assert_allclose(W1, Sw1, rtol=0, atol=1e-6 * np.abs(Sw1).max())
    np.testing.assert_allclose(Wm, Swm, rtol=0, atol=1e-6 * np.abs(Swm).max())
    np.testing.assert_allclose(R1, Sw1, rtol=0, atol=1e-10 * np.abs(Sw1).max())
    for classes in ("singletons", "label_sets"):
        assert nc1(st, classes=classes) == pytest.approx(nc1(ref, classes=classes), rel=1e-6)


@pytest.mark.parametrize("torch_in", [False, True])
@pytest.mark.parametrize("feat", [np.float32, np.float64])
def test_large_offset_under_float32_kernel(feat, torch_in):
    H, y = multiclass(seed=3, offset=1e6)
    H = H.astype(feat)
    ref = nc1_exact(H, y, 6)  # on the very same (possibly rounded) features
    st = batched(H, y, 500, np.float32, torch_in)
    assert nc1(st) == pytest.approx(ref, rel=1e-6)
    exact_means = np.stack([np.asarray(H, np.float64)[y == k].mean(axis=0) for k in range(6)])
    np.testing.assert_allclose(st.means_, exact_means, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("feat", [np.float32, np.float64])
def test_near_collapse_float32_kernel_keeps_nc1(feat):
    H, y = multiclass(seed=4, within=1e-3)
    H = H.astype(feat)
    ref = nc1_exact(H, y, 6)
    assert ref < 1e-6
    assert nc1(batched(H, y, 600, np.float32)) == pytest.approx(ref, rel=1e-6)


def test_one_d_labels_and_one_hot_indicator_give_identical_statistics():
    H, y = multiclass(seed=5)
    onehot = np.eye(6, dtype=int)[y]
    for dtype in (np.float32, np.float64):
        a = batched(H, y, 450, dtype).summary()
        b = batched(H, onehot, 450, dtype).summary()
        for field in ("counts", "label_sets", "multiplicities", "shift", "sums"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(a.scatter_single, b.scatter_single)
        t = CollapseStatistics(dtype).partial_fit(torch.from_numpy(H), torch.from_numpy(y))
        u = CollapseStatistics(dtype).partial_fit(H, y)
        np.testing.assert_allclose(t.summary().sums, u.summary().sums, rtol=1e-6, atol=1e-9)


def test_float64_kernel_unchanged_by_label_form():
    """The float64 kernel on 1-D labels is the plain shifted sums and scatters."""
    H, y = multiclass(seed=6, n=400)
    st = CollapseStatistics(np.float64).partial_fit(H, y)
    s = st.summary()
    X = H - s.shift
    np.testing.assert_allclose(s.scatter_single, X.T @ X, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(s.sums.sum(axis=0), X.sum(axis=0), atol=1e-9)


def test_merge_fast_and_general_statistics():
    H, y = multiclass(seed=7)
    onehot = np.eye(6, dtype=int)[y]
    a = batched(H[:1700].astype(np.float32), y[:1700], 400, np.float32)
    b = batched(H[1700:], onehot[1700:], 400, np.float64)
    whole = batched(H, y, 400, np.float64)
    merged = a + b
    np.testing.assert_array_equal(merged.counts_, whole.counts_)
    np.testing.assert_allclose(merged.means_, whole.means_, rtol=0, atol=1e-6)
    assert nc1(merged) == pytest.approx(nc1(whole), rel=1e-6)
    back = b + a  # other order, other shift
    assert nc1(back) == pytest.approx(nc1(whole), rel=1e-6)


def test_auto_dtype_follows_the_features():
    assert resolve_dtype("auto", np.zeros((1, 1), np.float32)) == "float32"
    assert resolve_dtype("auto", np.zeros((1, 1), np.float16)) == "float32"
    assert resolve_dtype("auto", np.zeros((1, 1), np.float64)) == "float64"
    assert resolve_dtype("auto", np.zeros((1, 1), np.int64)) == "float64"
    assert resolve_dtype("auto", torch.zeros(1, 1, dtype=torch.bfloat16)) == "float32"
    assert resolve_dtype("auto", torch.zeros(1, 1, dtype=torch.float64)) == "float64"
    with pytest.raises(ValueError, match="dtype must be 'auto', float64 or float32"):
        resolve_dtype(np.int32, np.zeros(1))
    H, y = multiclass(seed=8, n=600)
    bf = torch.from_numpy(H).to(torch.bfloat16)
    st = CollapseStatistics().partial_fit(bf, torch.from_numpy(y))
    ref = nc1_exact(bf.double().numpy(), y, 6)
    assert nc1(st) == pytest.approx(ref, rel=1e-6)


def test_float32_kernel_rejects_non_finite_and_keeps_state():
    H, y = multiclass(seed=9, n=200)
    H = H.astype(np.float32)
    st = CollapseStatistics().partial_fit(H[:100], y[:100])
    before = st.summary()
    bad = H[100:].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        st.partial_fit(bad, y[100:])
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        st.partial_fit(torch.from_numpy(bad), torch.from_numpy(y[100:]))
    huge = np.full((4, H.shape[1]), 3e38, dtype=np.float32)
    with pytest.raises(ValueError, match="overflow"):
        st.partial_fit(huge, np.zeros(4, dtype=int))
    after = st.summary()
    assert after.n_samples == before.n_samples
    np.testing.assert_array_equal(after.sums, before.sums)
    np.testing.assert_array_equal(after.scatter_single, before.scatter_single)


def test_one_d_label_errors():
    H, y = multiclass(seed=10, n=50)
    st = CollapseStatistics().partial_fit(H, y, n_labels=8)
    assert st.n_labels_ == 8
    with pytest.raises(ValueError, match="must lie in 0 .. 7"):
        st.partial_fit(H[:2], np.array([0, 8]))
    with pytest.raises(ValueError, match="n_labels=5"):
        CollapseStatistics().partial_fit(H, np.eye(6, dtype=int)[y], n_labels=5)
    with pytest.raises(ValueError, match="must be integers"):
        CollapseStatistics().partial_fit(H[:2], torch.tensor([0.0, 1.0]))
    idx, K = class_indices(torch.tensor([1, 0]), None)
    assert K == 2 and idx.tolist() == [1, 0]


def test_kernels_agree_on_one_batch():
    """The float32 kernel's moments equal the float64 kernel's to float32 rounding."""
    H, y = multiclass(seed=11, n=500)
    shift = H.mean(axis=0)
    mult = np.ones(6, dtype=np.int64)
    raw = raw_moments_numpy(H - shift, y, mult)
    for prior in (None, np.stack([H[y == k].mean(axis=0) + 0.1 for k in range(6)])):
        fast = centered_moments_numpy(H.astype(np.float32), y, mult, shift, prior)
        np.testing.assert_array_equal(fast.counts, raw.counts)
        np.testing.assert_allclose(fast.sums, raw.sums, rtol=0, atol=1e-3)
        scale = np.abs(raw.scatter_single).max()
        np.testing.assert_allclose(fast.scatter_single, raw.scatter_single, atol=1e-6 * scale)
