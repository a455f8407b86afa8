"""The per-label-set tag-wise view, and the documented corrections it and the UFM support:
c_m depends on the sample counts, and NC3 = 0 does not imply that W is a simplex ETF."""

import itertools

import numpy as np
import pytest
from scipy.optimize import brentq

from sklearn_mlabnc.collapse import (
    CollapseStatistics,
    nc2,
    nc3,
    tagwise_average,
    tagwise_view,
)
from sklearn_mlabnc.ufm import reduced_problem, solve_ufm


def _angle(a, b):
    cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_tagwise_view_against_a_direct_computation():
    rng = np.random.default_rng(0)
    K, d = 4, 6
    sets = [(k,) for k in range(K)] + list(itertools.combinations(range(K), 2))
    Y = np.array([[int(k in S) for k in range(K)] for S in sets for _ in range(3)])
    H = rng.normal(size=(len(Y), d)) + Y @ rng.normal(size=(K, d))
    view = tagwise_view(H, Y)
    mu = {S: H[(Y == [int(k in S) for k in range(K)]).all(1)].mean(0) for S in sets}
    pairs = [S for S in sets if len(S) == 2]
    assert view.labels == tuple(pairs)
    expected = [_angle(mu[S], mu[(S[0],)] + mu[(S[1],)]) for S in pairs]
    np.testing.assert_allclose(view.angle, expected, rtol=1e-9)
    a = {S: (mu[(S[0],)] + mu[(S[1],)]) / 2 for S in pairs}
    np.testing.assert_allclose(view.scale, [mu[S] @ a[S] / (a[S] @ a[S]) for S in pairs])
    c2 = sum(mu[S] @ a[S] for S in pairs) / sum(a[S] @ a[S] for S in pairs)
    assert view.c_m[2] == pytest.approx(c2)
    reference = np.mean([_angle(mu[S], mu[(i,)] + mu[(j,)]) for S in pairs for i, j in pairs])
    assert view.reference_angle[2] == pytest.approx(reference)
    assert view.nc_m[2] == pytest.approx(np.mean(expected) / reference)
    assert view.multiplicity.tolist() == [2] * 6 and view.count.tolist() == [3] * 6


def test_tagwise_view_from_statistics_equals_from_features():
    rng = np.random.default_rng(1)
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]] * 4)
    H = rng.normal(size=(20, 5))
    stats = CollapseStatistics().partial_fit(H[:10], Y[:10]).partial_fit(H[10:], Y[10:])
    a, b = tagwise_view(stats), tagwise_view(H, Y)
    np.testing.assert_allclose(a.angle, b.angle)
    assert a.c_m == pytest.approx(b.c_m)
    assert tagwise_average(H, Y).nc_m == pytest.approx(b.nc_m)


def _balanced(K, counts):
    rows = []
    for m, n in counts.items():
        for S in itertools.combinations(range(K), m):
            rows += [[int(k in S) for k in range(K)]] * n
    return np.array(rows)


def test_c_m_depends_on_the_sample_counts():
    """The UFM optimum's c_2 changes with the counts per multiplicity (solver and closed form)."""
    c2 = {}
    for counts in ({1: 3, 2: 1}, {1: 1, 2: 3}):
        reduced = reduced_problem(counts, 5, weight_decay=5e-4, lambda_h=1e-3)
        solved = solve_ufm(
            _balanced(5, counts), weight_decay=5e-4, lambda_h=1e-3, random_state=0
        ).report()
        assert solved.c_m[2] == pytest.approx(reduced.c_m[2], rel=1e-5)
        c2[tuple(counts.items())] = reduced.c_m[2]
    low, high = sorted(c2.values())
    assert high - low > 1e-3  # 1.8137 against 1.8166


def test_nc3_zero_does_not_make_w_a_simplex_etf():
    """W = U + t e_1 1^T / sqrt(K): W's products with the centred means equal U's, so NC3 = 0,
    while one row of W is three times as long: NC2(W) = 0.89."""
    K = 10
    U = np.sqrt(K / (K - 1)) * (np.eye(K) - 1 / K)  # unit-row simplex ETF, rows sum to 0
    Y = np.eye(K, dtype=int).repeat(3, axis=0)
    H = Y @ U  # singleton means = U, already centred

    def weights(t):
        return U + t * np.outer(np.eye(K)[0], np.ones(K) / np.sqrt(K))

    t = brentq(lambda t: nc2(H, Y, W=weights(t)).classifier - 0.89, 0.0, 100.0)
    W = weights(t)
    assert nc2(H, Y, W=W).classifier == pytest.approx(0.89)
    assert nc3(H, Y, W=W) < 1e-12 and nc2(H, Y).means < 1e-12
    assert np.linalg.norm(W, axis=1)[0] > 2.5 * np.linalg.norm(W, axis=1)[1]
