"""Tests of the collapse metrics: exact constructions, hand values, loop references."""

import itertools
import json
import math
import warnings

import numpy as np
import pytest

from sklearn_mlabnc.collapse import (
    CollapseReport,
    CollapseStatistics,
    collapse_report,
    label_statistics,
    nc1,
    nc2,
    nc3,
    nc4,
    soft_iou,
    tagwise_average,
)


# ------------------------------------------------------------------------ data makers
def simplex_etf(K):
    U = np.sqrt(K / (K - 1)) * (np.eye(K) - np.ones((K, K)) / K)
    return U / np.linalg.norm(U, axis=1, keepdims=True)


def collapsed_data(K=5, d=12, scale=3.0, c=None, counts=None, seed=0):
    """Exact MLab NC: singleton means = scale * rows of U P, tag-wise averages, no noise."""
    c = c or {2: 0.7, 3: 0.5}
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, K)))
    W = simplex_etf(K) @ Q.T  # (K, d), rows unit, simplex ETF
    mu = scale * W
    counts = counts or {1: 3, 2: 2, 3: 2}
    H, Y = [], []
    for m, n_m in counts.items():
        for S in itertools.combinations(range(K), m):
            mean = mu[list(S)].mean(axis=0) * (1.0 if m == 1 else c[m])
            y = np.zeros(K, dtype=int)
            y[list(S)] = 1
            for _ in range(n_m):
                H.append(mean)
                Y.append(y)
    perm = rng.permutation(len(H))
    return np.array(H)[perm], np.array(Y)[perm], W


def random_data(seed=0, K=4, d=12, n_empty=2):
    rng = np.random.default_rng(seed)
    sets = [(k,) for k in range(K)]
    sets += list(itertools.combinations(range(K), 2))[: K + 1]
    sets += list(itertools.combinations(range(K), 3))[:2]
    H, Y = [], []
    for S in sets:
        center = rng.normal(size=d) * 2
        for _ in range(int(rng.integers(2, 8))):
            y = np.zeros(K, dtype=int)
            y[list(S)] = 1
            Y.append(y)
            H.append(center + rng.normal(size=d))
    for _ in range(n_empty):
        Y.append(np.zeros(K, dtype=int))
        H.append(rng.normal(size=d))
    perm = rng.permutation(len(H))
    return np.array(H)[perm], np.array(Y)[perm], rng.normal(size=(K, d))


# ------------------------------------------------------------ slow loop references
def ref_groups(Y):
    groups = {}
    for i in range(len(Y)):
        key = tuple(int(k) for k in range(Y.shape[1]) if Y[i, k] == 1)
        groups.setdefault(key, []).append(i)
    return groups


def ref_mean(H, rows):
    total = np.zeros(H.shape[1])
    for i in rows:
        total = total + H[i]
    return total / len(rows)


def ref_global_mean(H, groups, keys, mode):
    if mode == "weighted":
        rows = [i for k in keys for i in groups[k]]
        return ref_mean(H, rows)
    if mode == "class_means":
        total = np.zeros(H.shape[1])
        for k in keys:
            total = total + ref_mean(H, groups[k])
        return total / len(keys)
    total = np.zeros(H.shape[1])  # paper: multiplicity-1 sum / all samples
    for k, rows in groups.items():
        if len(k) == 1:
            for i in rows:
                total = total + H[i]
    return total / len(H)


def ref_nc1(H, Y, classes, inverse, global_mean):
    groups = ref_groups(Y)
    K = Y.shape[1]
    if classes == "singletons":
        keys = [(k,) for k in range(K)]
    else:
        keys = [k for k in groups if len(k) >= 1]
    C = len(keys)
    means = {k: ref_mean(H, groups[k]) for k in keys}
    mu_G = ref_global_mean(H, groups, keys, global_mean)
    d = H.shape[1]
    Sw, n_used = np.zeros((d, d)), 0
    for k in keys:
        for i in groups[k]:
            v = H[i] - means[k]
            Sw += np.outer(v, v)
            n_used += 1
    Sw /= n_used
    Sb = np.zeros((d, d))
    for k in keys:
        v = means[k] - mu_G
        Sb += np.outer(v, v)
    Sb /= C
    if inverse == "pinv":
        inv = np.linalg.pinv(Sb, rcond=1e-10)
    else:
        vals, vecs = np.linalg.eigh(Sb)
        vals, vecs = vals[::-1][: C - 1], vecs[:, ::-1][:, : C - 1]
        inv = vecs @ np.diag(1 / vals) @ vecs.T
    return np.trace(Sw @ inv) / C


def ref_etf(A):
    K = A.shape[0]
    G = A @ A.T
    G = G / np.sqrt(np.sum(G**2))
    total = 0.0
    for i in range(K):
        for j in range(K):
            target = ((1.0 if i == j else 0.0) - 1.0 / K) / math.sqrt(K - 1)
            total += (G[i, j] - target) ** 2
    return math.sqrt(total)


def ref_singleton_means(H, Y, centered, global_mean):
    groups = ref_groups(Y)
    keys = [(k,) for k in range(Y.shape[1])]
    M = np.array([ref_mean(H, groups[k]) for k in keys])
    if centered:
        M = M - ref_global_mean(H, groups, keys, global_mean)
    return M


def ref_nc3(H, Y, W, global_mean):
    M = ref_singleton_means(H, Y, True, global_mean)
    K = W.shape[0]
    Z = np.array([[W[i] @ M[j] for j in range(K)] for i in range(K)])
    Z = Z / np.sqrt(np.sum(Z**2))
    target = (np.eye(K) - 1.0 / K) / math.sqrt(K - 1)
    return math.sqrt(np.sum((Z - target) ** 2))


def ref_angle(u, v):
    cos = float(u @ v) / (math.sqrt(float(u @ u)) * math.sqrt(float(v @ v)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def ref_tagwise(H, Y, centered, global_mean):
    groups = ref_groups(Y)
    K = Y.shape[1]
    mu = {k: ref_mean(H, rows) for k, rows in groups.items()}
    if centered:
        g = ref_global_mean(H, groups, [(k,) for k in range(K)], global_mean)
        mu = {k: v - g for k, v in mu.items()}
    out_nc, out_c = {}, {}
    for m in sorted({len(k) for k in groups if len(k) >= 2}):
        sets = [k for k in groups if len(k) == m]
        num = [ref_angle(mu[S], sum(mu[(k,)] for k in S)) for S in sets]
        den = [
            ref_angle(mu[S], sum(mu[(k,)] for k in T))
            for S in sets
            for T in itertools.combinations(range(K), m)
        ]
        out_nc[m] = np.mean(num) / np.mean(den)
        xa = sum(float(mu[S] @ (sum(mu[(k,)] for k in S) / m)) for S in sets)
        aa = sum(float(np.sum((sum(mu[(k,)] for k in S) / m) ** 2)) for S in sets)
        out_c[m] = xa / aa
    return out_nc, out_c


def ref_nc4(H, Y, P):
    groups = ref_groups(Y)
    keys = list(groups)
    means = [ref_mean(H, groups[k]) for k in keys]
    agree = 0
    for i in range(len(H)):
        dist = [float(np.sum((H[i] - m) ** 2)) for m in means]
        best = keys[int(np.argmin(dist))]
        pred = tuple(int(k) for k in range(Y.shape[1]) if P[i, k] == 1)
        agree += best == pred
    return agree / len(H)


def ref_soft_iou(Z, Y):
    total, n = 0.0, 0
    for i in range(len(Z)):
        if Y[i].sum() == 0:
            continue
        e = [math.exp(z - max(Z[i])) for z in Z[i]]
        total += sum(e[k] for k in range(len(e)) if Y[i, k]) / sum(e)
        n += 1
    return total / n


# --------------------------------------------------------------- exact constructions
@pytest.mark.parametrize("classes", ["singletons", "label_sets"])
@pytest.mark.parametrize("inverse", ["pinv", "svd"])
@pytest.mark.parametrize("global_mean", ["weighted", "class_means"])
def test_exact_collapse_all_zero(classes, inverse, global_mean):
    H, Y, W = collapsed_data()
    if classes == "label_sets" and inverse == "svd":
        # the 25 set means span only K-1 = 4 directions: the top-(C-1) inverse is undefined
        with pytest.warns(RuntimeWarning, match=r"needs the top C-1=24 .* d=12"):
            assert math.isnan(nc1(H, Y, classes=classes, inverse=inverse))
        H30, Y30, _ = collapsed_data(d=30)
        with pytest.warns(RuntimeWarning, match=r"rank 4 < C-1=24"):
            assert math.isnan(nc1(H30, Y30, classes=classes, inverse=inverse))
    else:
        # zero within-set noise: NC1 is exactly 0 (up to rounding)
        v = nc1(H, Y, classes=classes, inverse=inverse, global_mean=global_mean)
        assert abs(v) < 1e-10
    r2 = nc2(H, Y, W=W, global_mean=global_mean)
    assert r2.means < 1e-10 and r2.classifier < 1e-10
    assert nc3(H, Y, W=W, global_mean=global_mean) < 1e-10
    for centered in [False, True]:
        tw = tagwise_average(H, Y, centered=centered, global_mean=global_mean)
        assert set(tw.nc_m) == {2, 3}
        assert tw.nc_m[2] < 1e-10 and tw.nc_m[3] < 1e-10
        assert tw.c_m[2] == pytest.approx(0.7, abs=1e-12)
        assert tw.c_m[3] == pytest.approx(0.5, abs=1e-12)
        assert all(abs(r.angle) < 1e-10 and abs(r.scale_residual) < 1e-10 for r in tw.residuals)
        assert len(tw.residuals) == math.comb(5, 2) + math.comb(5, 3)


def test_exact_collapse_report_and_notes():
    H, Y, W = collapsed_data(counts={1: 4, 2: 3, 3: 1})
    rep = collapse_report(H, Y, W, np.full(5, 0.3), predictions=Y)
    assert abs(rep.nc1) < 1e-10 and rep.nc2_means < 1e-10 and rep.nc3 < 1e-10
    assert rep.nc4 == 1.0 and rep.bias_deviation == pytest.approx(0.0, abs=1e-15)
    assert rep.c_m == pytest.approx({2: 0.7, 3: 0.5})
    # balanced within each multiplicity: no imbalance note
    assert not any("imbalanced" in n for n in rep.notes)
    # imbalance inside multiplicity 2
    H2, Y2 = np.vstack([H, H[Y.sum(1) == 2][:1]]), np.vstack([Y, Y[Y.sum(1) == 2][:1]])
    rep2 = collapse_report(H2, Y2)
    assert "label sets of multiplicity 2 are imbalanced (counts 3..4)" in " ".join(rep2.notes)


def test_exact_collapse_with_scaled_singletons_and_large_offset():
    H, Y, W = collapsed_data(scale=10.0, seed=3)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=H.shape) * 1e-3
    base = nc1(H + noise, Y)
    assert 0 < base < 1e-4
    assert nc1(H + noise + 1e6, Y) == pytest.approx(base, rel=1e-6)


# ------------------------------------------------------------------ hand computations
def test_nc1_hand_two_classes():
    a = 0.5
    H = np.array([[-1 - a], [-1 + a], [1 - a], [1 + a]])
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    # Sigma_W = a^2, Sigma_B = 1, NC1 = a^2 / 2
    for inv in ["pinv", "svd"]:
        assert nc1(H, Y, inverse=inv) == pytest.approx(a**2 / 2, rel=1e-12)


def test_nc1_hand_global_means_and_label_sets():
    H = np.array([[1.0], [3.0], [5.0], [7.0], [100.0]])
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]])
    # singletons: Sigma_W = 1; weighted mu_G = 4 -> Sigma_B = 4 -> NC1 = 1/4/2
    assert nc1(H, Y) == pytest.approx(0.125, rel=1e-12)
    assert nc1(H, Y, global_mean="class_means") == pytest.approx(0.125, rel=1e-12)
    # paper: mu_G = 16 / 5 = 3.2 -> Sigma_B = (1.2^2 + 2.8^2) / 2 = 4.64
    assert nc1(H, Y, global_mean="paper") == pytest.approx(1 / 4.64 / 2, rel=1e-12)
    # label sets: Sigma_W = 4/5; mu_G = 23.2; Sigma_B = 6643.52 / 3; C = 3
    assert nc1(H, Y, classes="label_sets") == pytest.approx(0.8 / 6643.52, rel=1e-10)


def test_nc2_nc3_hand():
    H = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    Y = np.eye(3, dtype=int)
    # G = diag(1, 1, 0): deviation sqrt(2/3)
    r = nc2(H, Y, W=H, centered=False)
    assert r.classifier == pytest.approx(math.sqrt(2 / 3), rel=1e-12)
    assert r.means == pytest.approx(math.sqrt(2 / 3), rel=1e-12)
    # centred means of a 3-point configuration vs the ETF; W = ETF
    U = np.array([[1, 0], [-0.5, 0.75**0.5], [-0.5, -(0.75**0.5)]])
    assert nc2(2 * U + 5, Y, W=U).means == pytest.approx(0.0, abs=1e-12)
    assert nc3(2 * U + 5, Y, W=U) == pytest.approx(0.0, abs=1e-12)
    # W = -U is anti-aligned: W Mbar^T = -c (I - 11^T/3): deviation 2
    assert nc3(2 * U, Y, W=-U) == pytest.approx(2.0, rel=1e-12)


def test_tagwise_hand():
    H = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [1.0, 0.0]])
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    res = tagwise_average(H, Y)
    # numerator 45 degrees; reference angles 45, 90, 180
    assert res.nc_m[2] == pytest.approx(45 / 105, rel=1e-12)
    assert res.c_m[2] == pytest.approx(1.0, rel=1e-12)
    (row,) = res.residuals
    assert row.labels == (0, 1) and row.count == 1 and row.angle == pytest.approx(45.0)
    assert row.relative_residual == pytest.approx(1.0)  # ||(1,0)-(.5,.5)|| / ||(.5,.5)||


def test_nc4_and_soft_iou_hand():
    H = np.array([[0.0], [0.1], [1.0], [1.1]])
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    assert nc4(H, Y, [[1, 0], [0, 1], [0, 1], [0, 1]]) == 0.75
    st = CollapseStatistics().partial_fit(H, Y)
    assert nc4(st, predictions=Y, H=H) == 1.0
    Z = np.array([[0.0, 0.0], [np.log(3.0), 0.0], [5.0, 1.0]])
    Yz = np.array([[1, 0], [1, 1], [0, 0]])  # the empty row is excluded
    assert soft_iou(Z, Yz) == pytest.approx(0.75)
    assert soft_iou([[0.2, 0.8], [0.5, 0.5]], [[0, 1], [1, 1]], from_logits=False) == 0.9


def test_label_statistics_hand():
    Y = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 0]])
    st = label_statistics(Y)
    assert st["counts"].tolist() == [1, 2, 1, 1]
    assert st["multiplicity_counts"] == {0: 1, 1: 3, 2: 1}
    assert st["sets_per_multiplicity"] == {0: 1, 1: 2, 2: 1}
    assert st["count_range"][1] == (1, 2)
    second = np.array([[3, 1], [1, 2]]) / 5
    np.testing.assert_allclose(st["second_moment_eigenvalues"], np.linalg.eigvalsh(second)[::-1])
    f = np.array([3, 2]) / 5
    np.testing.assert_allclose(
        st["covariance_eigenvalues"], np.linalg.eigvalsh(second - np.outer(f, f))[::-1]
    )
    # from statistics and from torch give the same
    s2 = label_statistics(CollapseStatistics().partial_fit(np.zeros((5, 1)), Y))
    np.testing.assert_allclose(s2["second_moment_eigenvalues"], st["second_moment_eigenvalues"])
    torch = pytest.importorskip("torch")
    s3 = label_statistics(torch.from_numpy(Y))
    assert s3["counts"].tolist() == st["counts"].tolist()


# ------------------------------------------------------------ loop-reference agreement
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("classes", ["singletons", "label_sets"])
@pytest.mark.parametrize("inverse", ["pinv", "svd"])
@pytest.mark.parametrize("global_mean", ["weighted", "class_means", "paper"])
def test_nc1_matches_reference(seed, classes, inverse, global_mean):
    H, Y, _ = random_data(seed)
    got = nc1(H, Y, classes=classes, inverse=inverse, global_mean=global_mean)
    want = ref_nc1(H, Y, classes, inverse, global_mean)
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("global_mean", ["weighted", "class_means", "paper"])
def test_nc1_many_classes_gram_path_matches_reference(global_mean):
    # C = 11 label sets > d = 6 features: the d x d Gram eigen-decomposition path
    H, Y, _ = random_data(2, d=6)
    got = nc1(H, Y, classes="label_sets", global_mean=global_mean)
    assert got == pytest.approx(ref_nc1(H, Y, "label_sets", "pinv", global_mean), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("global_mean", ["weighted", "class_means", "paper"])
def test_nc2_nc3_match_reference(seed, centered, global_mean):
    H, Y, W = random_data(seed)
    r = nc2(H, Y, W=W, centered=centered, global_mean=global_mean)
    assert r.means == pytest.approx(ref_etf(ref_singleton_means(H, Y, centered, global_mean)))
    assert r.classifier == pytest.approx(ref_etf(W), rel=1e-10)
    assert nc3(H, Y, W=W, global_mean=global_mean) == pytest.approx(
        ref_nc3(H, Y, W, global_mean), rel=1e-10
    )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("global_mean", ["weighted", "class_means", "paper"])
def test_tagwise_matches_reference(seed, centered, global_mean):
    H, Y, _ = random_data(seed)
    res = tagwise_average(H, Y, centered=centered, global_mean=global_mean)
    want_nc, want_c = ref_tagwise(H, Y, centered, global_mean)
    assert res.nc_m.keys() == want_nc.keys()
    for m in want_nc:
        assert res.nc_m[m] == pytest.approx(want_nc[m], rel=1e-9)
        assert res.c_m[m] == pytest.approx(want_c[m], rel=1e-9)
    assert res.n_skipped == {2: 0, 3: 0}


def test_tagwise_sampled_subsets_deterministic_and_close():
    H, Y, _ = random_data(5, K=7, d=10)
    exact = tagwise_average(H, Y)
    a = tagwise_average(H, Y, max_subsets=20, random_state=1)
    b = tagwise_average(H, Y, max_subsets=20, random_state=1)
    assert a.nc_m == b.nc_m
    for m in exact.nc_m:
        assert a.nc_m[m] == pytest.approx(exact.nc_m[m], rel=0.25)
        assert a.c_m[m] == exact.c_m[m]  # the scale does not depend on the sampling


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nc4_soft_iou_label_stats_match_reference(seed):
    H, Y, W = random_data(seed)
    rng = np.random.default_rng(seed)
    P = Y.copy()
    flip = rng.random(len(P)) < 0.3
    P[flip] = np.roll(P[flip], 1, axis=1)
    assert nc4(H, Y, P) == pytest.approx(ref_nc4(H, Y, P))
    assert nc4(H, Y, P, batch_size=3) == pytest.approx(ref_nc4(H, Y, P))
    Z = H @ W.T
    assert soft_iou(Z, Y) == pytest.approx(ref_soft_iou(Z, Y), rel=1e-12)
    rep = collapse_report(H, Y, W, predictions=P)
    assert rep.soft_iou == pytest.approx(ref_soft_iou(Z, Y), rel=1e-12)
    assert rep.nc4 == pytest.approx(ref_nc4(H, Y, P))
    groups = ref_groups(Y)
    st = label_statistics(Y)
    pairs = zip(st["label_sets"], st["counts"], strict=True)
    got = {tuple(np.flatnonzero(s)): int(c) for s, c in pairs}
    assert got == {k: len(v) for k, v in groups.items()}


def test_torch_metrics_match_numpy():
    torch = pytest.importorskip("torch")
    H, Y, W = random_data(3)
    P = np.roll(Y, 1, axis=0)
    Ht, Yt = torch.from_numpy(H), torch.from_numpy(Y)
    assert nc4(Ht, Yt, torch.from_numpy(P)) == nc4(H, Y, P)
    Z = H @ W.T
    assert soft_iou(torch.from_numpy(Z), Yt) == pytest.approx(soft_iou(Z, Y), rel=1e-12)
    a = collapse_report(Ht, Yt, torch.from_numpy(W), predictions=P)
    b = collapse_report(H, Y, W, predictions=P)
    for k, v in b.to_dict().items():
        if isinstance(v, float) and not math.isnan(v):
            assert a.to_dict()[k] == pytest.approx(v, rel=1e-10), k


# ----------------------------------------------------------------- degenerate inputs
def test_label_never_seen_alone():
    H, Y, W = random_data(4)
    keep = ~((Y.sum(1) == 1) & (Y[:, 3] == 1))  # drop singleton {3}
    H, Y = H[keep], Y[keep]
    with pytest.warns(RuntimeWarning, match=r"label\(s\) \[3\] never observed alone"):
        assert math.isnan(nc1(H, Y))
    with pytest.warns(RuntimeWarning, match="never observed alone"):
        r = nc2(H, Y, W=W)
    assert math.isnan(r.means) and not math.isnan(r.classifier)
    with pytest.warns(RuntimeWarning, match="never observed alone"):
        assert math.isnan(nc3(H, Y, W=W))
    with pytest.warns(RuntimeWarning, match="contain a label never observed alone"):
        tw = tagwise_average(H, Y)
    assert tw.n_skipped[2] > 0 and not math.isnan(tw.nc_m[2])
    assert all(3 not in r.labels for r in tw.residuals)
    # the label-set convention still works
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(nc1(H, Y, classes="label_sets"))
    with pytest.warns(RuntimeWarning):
        rep = collapse_report(H, Y, W)
    assert any("never observed alone" in n for n in rep.notes)
    assert rep.to_dict()["n_skipped_m_2"] == tw.n_skipped[2]


def test_single_sample_classes():
    H = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    Y = np.eye(3, dtype=int)
    with pytest.warns(RuntimeWarning, match="every class has a single sample"):
        assert math.isnan(nc1(H, Y))
    # a single one-sample class among others is fine, and is noted in the report
    H2 = np.vstack([H, H[:2] + 0.1])
    Y2 = np.vstack([Y, Y[:2]])
    assert np.isfinite(nc1(H2, Y2))
    rep = collapse_report(H2, Y2)
    assert any("single sample" in n for n in rep.notes)


def test_all_features_equal():
    H = np.full((12, 4), 3.7)
    Y = np.vstack([np.eye(3, dtype=int)] * 3 + [[[1, 1, 0]] * 3])
    with pytest.warns(RuntimeWarning, match="between-class scatter is zero"):
        assert math.isnan(nc1(H, Y))
    with pytest.warns(RuntimeWarning, match="singleton means coincide"):
        assert math.isnan(nc2(H, Y).means)
    with pytest.warns(RuntimeWarning, match="singleton means coincide"):
        assert math.isnan(nc3(H, Y, W=np.ones((3, 4))))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert math.isnan(tagwise_average(H, Y, centered=True).nc_m[2])
    assert any("undefined (zero mean vectors)" in str(w.message) for w in caught)
    with pytest.warns(RuntimeWarning):
        rep = collapse_report(H, Y)
    assert math.isnan(rep.nc1) and rep.notes


def test_d_smaller_than_k_minus_one():
    rng = np.random.default_rng(0)
    K, d = 5, 2
    Y = np.eye(K, dtype=int).repeat(4, axis=0)
    H = rng.normal(size=(K, d))[np.arange(K).repeat(4)] + 0.1 * rng.normal(size=(4 * K, d))
    with pytest.warns(RuntimeWarning, match="'svd' inverse needs the top C-1=4"):
        assert math.isnan(nc1(H, Y, inverse="svd"))
    assert np.isfinite(nc1(H, Y, inverse="pinv"))  # pseudo-inverse on the 2-D span
    assert nc1(H, Y) == pytest.approx(ref_nc1(H, Y, "singletons", "pinv", "weighted"))
    with pytest.warns(RuntimeWarning, match="cannot be embedded"):
        assert nc2(H, Y).means > 0.1


def test_fewer_than_two_classes():
    H = np.arange(6.0).reshape(3, 2)
    Y = np.ones((3, 1), dtype=int)
    with pytest.warns(RuntimeWarning, match="fewer than 2 classes"):
        assert math.isnan(nc1(H, Y))


# -------------------------------------------------------------------- report object
def test_report_dict_frame_repr():
    H, Y, W = random_data(6)
    rep = collapse_report(H, Y, W, np.arange(4.0), predictions=Y, global_mean="paper")
    d = rep.to_dict()
    expected = {
        "nc1",
        "nc2_means",
        "nc2_classifier",
        "nc3",
        "nc4",
        "soft_iou",
        "bias_deviation",
        "nc_m_2",
        "c_m_2",
        "n_skipped_m_2",
        "nc_m_3",
        "c_m_3",
        "n_skipped_m_3",
        "n_samples",
        "n_label_sets",
        "n_labels",
        "n_features",
    }
    assert expected <= d.keys()
    assert d["option_global_mean"] == "paper" and d["option_classes"] == "singletons"
    assert all(type(v) in (float, int, str, bool) for v in d.values())
    json.loads(json.dumps(d))
    assert d["n_samples"] == len(H) and d["n_labels"] == 4 and d["n_label_sets"] == 12
    b = np.arange(4.0)
    assert d["option_bias_metric"] == "logit_scale"
    ratio = collapse_report(H, Y, W, b, global_mean="paper", bias_metric="ratio").to_dict()
    assert ratio["option_bias_metric"] == "ratio"
    assert ratio["bias_deviation"] == pytest.approx(
        np.linalg.norm(b - b.mean()) / np.linalg.norm(b)
    )
    pytest.importorskip("pandas")
    frame = rep.to_frame()
    assert frame.loc["nc1", "value"] == pytest.approx(rep.nc1)
    res = rep.to_frame("residuals")
    assert len(res) == len(rep.residuals) == 7
    assert list(res.columns)[:3] == ["labels", "multiplicity", "count"]
    with pytest.raises(ValueError, match="which must be"):
        rep.to_frame("nope")
    text = repr(rep)
    assert "nc1" in text and "nc_m[2]" in text and "notes:" in text
    with pytest.raises(AttributeError):
        rep.nc1 = 0.0  # frozen
    assert rep.warnings == rep.notes


def test_report_without_classifier_has_nan():
    H, Y, _ = random_data(7)
    rep = collapse_report(CollapseStatistics().partial_fit(H, Y))
    assert math.isnan(rep.nc2_classifier) and math.isnan(rep.nc3)
    assert math.isnan(rep.nc4) and math.isnan(rep.soft_iou) and math.isnan(rep.bias_deviation)
    assert isinstance(rep, CollapseReport)


# ----------------------------------------------------------------------- bad options
def test_bad_options_and_arguments():
    H, Y, W = random_data(8)
    st = CollapseStatistics().partial_fit(H, Y)
    with pytest.raises(ValueError, match="'classes' parameter of nc1 must be a str among"):
        nc1(H, Y, classes="sets")
    with pytest.raises(ValueError, match="'inverse' parameter of nc1 must be a str among"):
        nc1(st, inverse="eig")
    with pytest.raises(ValueError, match="'global_mean' parameter of nc2 must be a str among"):
        nc2(st, global_mean="median")
    with pytest.raises(ValueError, match="not both"):
        nc1(st, Y)
    with pytest.raises(ValueError, match="Y is required"):
        nc1(H)
    with pytest.raises(ValueError, match=r"W must have shape \(4, 12\)"):
        nc2(st, W=W[:, :3])
    with pytest.raises(ValueError, match="requires the classifier weights"):
        nc3(st, W=None)
    with pytest.raises(ValueError, match="H are required"):
        nc4(st, predictions=Y)
    with pytest.raises(ValueError, match="predictions must have shape"):
        nc4(H, Y, Y[:, :2])
    with pytest.raises(ValueError, match="0/1 indicator"):
        nc4(H, Y, 2 * Y)
    with pytest.raises(ValueError, match="scores must have the shape of Y"):
        soft_iou(H, Y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        soft_iou(np.full(Y.shape, np.nan), Y)
    with pytest.raises(TypeError, match="unexpected keyword argument 'clases'"):
        collapse_report(st, clases="label_sets")
    with pytest.raises(
        ValueError, match="'max_subsets' parameter of tagwise_average must be an int in the range"
    ):
        tagwise_average(st, max_subsets=0)
