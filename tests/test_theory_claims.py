"""The numeric and mathematical claims of the theory pages, recomputed.

Each test names the page and the sentence it backs (docs/user_guide/ufm.rst, losses.rst,
etf_head.rst); if a claim there were false, its test fails. Claims about the ETF-head
optimum, ``feature_decay`` and N cancelling are in test_ufm_fixed_classifier.py, NC3 = 0
with NC2(W) = 0.89 in test_tagwise_view.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ufm_helpers import balanced_labels

from sklearn_mlabnc.collapse import collapse_report, nc2
from sklearn_mlabnc.ufm import reduced_problem, solve_ufm

# ufm.rst: the table of c_2 against the counts (PAL, lambda_W = 5e-4, lambda_H = 1e-3)
C2_TABLE = [
    (5, 3, 1, 25, 1.816601),
    (5, 3, 3, 45, 1.810001),
    (5, 1, 3, 35, 1.813646),
    (5, 6, 2, 50, 1.807937),
    (10, 100, 20, 1900, 1.763149),
    (10, 100, 100, 5500, 1.744064),
    (10, 20, 100, 4700, 1.748096),
]


@pytest.mark.parametrize(("K", "n1", "n2", "N", "c2"), C2_TABLE)
def test_ufm_page_c2_table(K, n1, n2, N, c2):
    sol = reduced_problem({1: n1, 2: n2}, K, weight_decay=5e-4, lambda_h=1e-3)
    assert sol.n_samples == N
    assert round(sol.c_m[2], 6) == c2
    if K == 5:  # "the full solver's c_2 equals the closed form's to six digits"
        full = solve_ufm(
            balanced_labels(K, {1: n1, 2: n2}), weight_decay=5e-4, lambda_h=1e-3, random_state=0
        )
        assert full.grad_norm < 1e-13
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert round(full.report().c_m[2], 6) == c2


def test_ufm_page_estimator_value_as_lambda_h_is_950_times_too_strong():
    correct = reduced_problem({1: 100, 2: 20}, 10, feature_decay=0.03)
    assert 0.03 / correct.lambda_h == pytest.approx(950)


def _bce_ufm(fixed=None, bias_decay=5e-3):
    Y = balanced_labels(10, {1: 100, 2: 20})
    sol = solve_ufm(
        Y,
        loss="bce",
        weight_decay=5e-3,
        feature_decay=0.03,
        bias_decay=bias_decay,
        fixed_classifier=fixed,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = sol.report()
    Z = sol.logits
    single = Z[0][Y[0] == 1][0]  # the first row is a singleton, the last a pair
    pair = Z[-1][Y[-1] == 1].mean()
    return sol, report, single, pair


def test_losses_page_bce_geometry_with_matched_bias_decay():
    sol, report, single, pair = _bce_ufm()
    assert sol.converged
    assert report.nc1 != report.nc1 or report.nc1 < 1e-12  # collapsed (0/0 or 0)
    assert report.nc2_means < 1e-10 and report.nc3 < 1e-8
    assert round(report.nc2_classifier, 3) == 0.678
    assert round(float(sol.b.mean()), 2) == -1.07 and np.ptp(sol.b) < 1e-8
    centred_W = sol.W - sol.W.mean(axis=0)
    assert nc2(sol.H, sol.Y, W=centred_W).classifier < 1e-8  # W minus its mean row: an ETF
    assert round(report.nc_m[2], 3) == 0.369 and round(report.c_m[2], 3) == 1.259
    assert round(pair, 3) == 3.374 and round(single, 3) == 3.287 and pair > single


def test_losses_page_bce_geometry_without_bias_decay():
    _, report, single, pair = _bce_ufm(bias_decay=0.0)
    assert round(report.nc2_classifier, 4) == 0.0017
    assert round(report.nc_m[2], 3) == 0.041 and round(report.c_m[2], 2) == 2.16
    assert round(pair, 2) == 3.07 and round(single, 2) == 3.32 and pair < single


def test_losses_page_bce_with_fixed_etf():
    _, report, _, _ = _bce_ufm(fixed="etf")
    assert report.nc_m[2] < 1e-8 and round(report.c_m[2], 3) == 2.119


def test_etf_head_page_non_negative_means_can_form_a_centred_etf():
    """Means at e_1..e_K are non-negative; centred they are a simplex ETF, uncentred not."""
    K = 5
    Y = balanced_labels(K, {1: 3})
    H = np.repeat(np.eye(K), 3, axis=0)
    assert H.min() >= 0
    assert nc2(H, Y).means < 1e-12  # centred means: exactly a simplex ETF
    uncentred = collapse_report(H, Y, centered=False)
    assert uncentred.nc2_means > 0.1
    # and no non-negative family can be the zero-sum ETF itself: its rows sum to zero
    U = np.eye(K) - 1.0 / K
    assert np.allclose(U.sum(axis=0), 0) and U.min() < 0
