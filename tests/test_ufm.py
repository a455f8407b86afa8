"""Tests of the unconstrained feature model solvers (sklearn_mlabnc.ufm).

The checks are independent of the implementation where possible: the full per-sample UFM
objective is recomputed here with numpy and with torch autograd, and the collapsed geometry is
rebuilt from (alpha, a_m) with the formulas of the reference (section 2).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import log_softmax
from ufm_helpers import balanced_labels
from ufm_helpers import unit_etf as simplex

from sklearn_mlabnc.ufm import ReducedSolution, UFMSolution, reduced_problem, solve_ufm

LAM_W, LAM_H = 5e-4, 1e-3


# --------------------------------------------------------------------------------------------
# independent helpers
# --------------------------------------------------------------------------------------------


def full_objective_numpy(W, H, b, Y, loss, lam_w=LAM_W, lam_h=LAM_H, lam_b=0.0) -> float:
    """Per-sample UFM objective, written from the reference's formulas."""
    Z = H @ W.T + b
    if loss == "bce":
        per_sample = np.sum(np.logaddexp(0.0, Z) - Y * Z, axis=1)
    else:
        T = Y / Y.sum(axis=1, keepdims=True) if loss == "pal_normalized" else Y
        per_sample = -np.sum(T * log_softmax(Z, axis=1), axis=1)
    return float(
        per_sample.mean()
        + lam_w / 2 * np.sum(W**2)
        + lam_h / 2 * np.sum(H**2)
        + lam_b / 2 * np.sum(b**2)
    )


def full_objective_torch(W, H, b, Y, loss, lam_w=LAM_W, lam_h=LAM_H, lam_b=0.0):
    """Per-sample objective and its autograd gradient norm (all of W, every h_i, b)."""
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (W, H, b)]
    Wt, Ht, bt = params
    Yt = torch.tensor(Y, dtype=torch.float64)
    Z = Ht @ Wt.T + bt
    if loss == "bce":
        per_sample = torch.nn.functional.binary_cross_entropy_with_logits(
            Z, Yt, reduction="none"
        ).sum(1)
    else:
        T = Yt / Yt.sum(1, keepdim=True) if loss == "pal_normalized" else Yt
        per_sample = -(T * torch.log_softmax(Z, 1)).sum(1)
    f = (
        per_sample.mean()
        + lam_w / 2 * (Wt**2).sum()
        + lam_h / 2 * (Ht**2).sum()
        + lam_b / 2 * (bt**2).sum()
    )
    f.backward()
    grad = torch.cat([p.grad.reshape(-1) for p in params])
    return float(f.detach()), float(grad.norm())


def sig_digits(x: float, ref: float) -> float:
    return -math.log10(max(abs(x / ref - 1.0), 1e-17))


# --------------------------------------------------------------------------------------------
# solver vs reduced problem (balanced within each multiplicity)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
@pytest.mark.parametrize("K", [4, 5])
def test_solver_matches_reduced_problem(K, loss):
    counts = {1: 3, 2: 1}
    Y = balanced_labels(K, counts)
    sol = solve_ufm(Y, loss=loss, random_state=K)
    ref = reduced_problem(counts, K, loss=loss)
    assert isinstance(sol, UFMSolution) and isinstance(ref, ReducedSolution)
    assert sol.converged and sol.grad_norm < 1e-10
    assert not ref.collapsed and sol.theorem_applies

    W, H, b = sol.W, sol.H, sol.b
    # alpha = norm of every classifier row, to >= 6 significant digits
    row_norms = np.linalg.norm(W, axis=1)
    assert min(sig_digits(r, ref.alpha) for r in row_norms) > 6
    # NC2: W W^T = alpha^2 K/(K-1) (I - 11^T/K)
    gram = ref.alpha**2 * K / (K - 1) * (np.eye(K) - 1.0 / K)
    np.testing.assert_allclose(W @ W.T, gram, rtol=0, atol=1e-6 * ref.alpha**2)
    # balance of the regularisers
    np.testing.assert_allclose(LAM_W * np.sum(W**2), LAM_H * np.sum(H**2), rtol=1e-6)
    # the bias is constant across classes (zero here: it starts at zero, softmax is
    # shift invariant)
    assert np.ptp(b) < 1e-8
    # NC1 holds by construction; NC3 + tag-wise: h_S = a_m sum_{k in S} w_k / alpha
    sets = sol.label_sets.astype(bool)
    for S, h in zip(sets, sol.set_features, strict=True):
        m = int(S.sum())
        np.testing.assert_allclose(h, ref.a_m[m] / ref.alpha * W[S].sum(0), rtol=0, atol=1e-7)
        a_hat = np.linalg.norm(h) / math.sqrt(m * (K - m) / (K - 1))
        assert sig_digits(a_hat, ref.a_m[m]) > 6
    # singleton features are proportional to the rows of W
    singles = sol.set_features[sets.sum(1) == 1]
    order = np.argmax(sets[sets.sum(1) == 1], axis=1)
    cos = np.sum(singles * W[order], 1) / np.linalg.norm(singles, axis=1) / row_norms[order]
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    # c_2 from the solver's features
    mean_single = {int(k): singles[i] for i, k in enumerate(order)}
    for S, h in zip(sets, sol.set_features, strict=True):
        if S.sum() == 2:
            i, j = np.flatnonzero(S)
            c_hat = np.linalg.norm(h) / np.linalg.norm((mean_single[i] + mean_single[j]) / 2)
            assert sig_digits(c_hat, ref.c_m[2]) > 6
    # objective values agree, and the per-sample objective (numpy) is the solver's
    np.testing.assert_allclose(sol.objective, ref.objective, rtol=1e-10)
    np.testing.assert_allclose(full_objective_numpy(W, H, b, Y, loss), sol.objective, rtol=1e-12)


@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
@pytest.mark.parametrize("K", [4, 5])
def test_report_of_balanced_solution_is_collapsed(K, loss):
    pytest.importorskip("sklearn_mlabnc.collapse")
    counts = {1: 3, 2: 1}
    sol = solve_ufm(balanced_labels(K, counts), loss=loss, random_state=0)
    ref = reduced_problem(counts, K, loss=loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sol.report()
    assert abs(rep.nc1) < 1e-5
    assert rep.nc2_means < 1e-5
    assert rep.nc2_classifier < 1e-5
    assert rep.nc3 < 1e-5
    assert rep.nc_m[2] < 1e-5
    np.testing.assert_allclose(rep.c_m[2], ref.c_m[2], rtol=1e-6)
    assert not any("imbalanc" in n.lower() for n in rep.notes)


def test_solver_with_three_multiplicities_matches_reduced():
    K, counts = 5, {1: 2, 2: 1, 3: 1}
    sol = solve_ufm(balanced_labels(K, counts), random_state=1)
    ref = reduced_problem(counts, K)
    assert sol.converged
    np.testing.assert_allclose(np.linalg.norm(sol.W, axis=1), ref.alpha, rtol=1e-7)
    for S, h in zip(sol.label_sets.astype(bool), sol.set_features, strict=True):
        m = int(S.sum())
        np.testing.assert_allclose(
            np.linalg.norm(h) ** 2, ref.a_m[m] ** 2 * m * (K - m) / (K - 1), rtol=1e-7
        )
    np.testing.assert_allclose(sol.objective, ref.objective, rtol=1e-10)


@pytest.mark.parametrize("n_features", [3, 4, 7])
def test_solver_objective_independent_of_dimension_above_threshold(n_features):
    K, counts = 4, {1: 3, 2: 1}
    sol = solve_ufm(balanced_labels(K, counts), n_features=n_features, random_state=0)
    assert sol.W.shape == (K, n_features) and sol.H.shape == (18, n_features)
    np.testing.assert_allclose(sol.objective, reduced_problem(counts, K).objective, rtol=1e-10)


# --------------------------------------------------------------------------------------------
# the reduced problem on its own
# --------------------------------------------------------------------------------------------
REDUCED_CASES = [
    (4, {1: 3, 2: 1}),
    (5, {1: 3, 2: 1}),
    (5, {1: 2, 2: 1, 3: 4}),
    (6, {1: 10, 2: 1}),
    (3, {2: 5}),
]


@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
@pytest.mark.parametrize(("K", "counts"), REDUCED_CASES)
def test_reduced_stationarity_conditions(K, counts, loss):
    sol = reduced_problem(counts, K, loss=loss, weight_decay=LAM_W, lambda_h=LAM_H)
    N = sum(n * math.comb(K, m) for m, n in counts.items())
    assert sol.n_samples == N and not sol.collapsed
    alpha = sol.alpha
    for m in counts:
        w = 1.0 / m if loss == "pal_normalized" else 1.0
        lhs = LAM_H * sol.a_m[m] * (m * math.exp(alpha * sol.a_m[m] * K / (K - 1)) + K - m)
        rhs = alpha * K * w / N
        assert abs(lhs - rhs) <= 1e-10 * rhs
    np.testing.assert_allclose(sol.W_norm_sq, K * alpha**2, rtol=1e-14)
    h_sq = sum(
        n * math.comb(K, m) * sol.a_m[m] ** 2 * m * (K - m) / (K - 1) for m, n in counts.items()
    )
    np.testing.assert_allclose(sol.H_norm_sq, h_sq, rtol=1e-12)
    assert abs(LAM_W * sol.W_norm_sq - LAM_H * sol.H_norm_sq) <= 1e-10 * LAM_W * sol.W_norm_sq
    assert sol.stationarity_residual < 1e-10
    assert max(sol.stationarity_residuals().values()) < 1e-10
    # c_m = m a_m / a_1; logit scale alpha a_m K/(K-1)
    for m in counts:
        if 1 in counts:
            np.testing.assert_allclose(sol.c_m[m], m * sol.a_m[m] / sol.a_m[1], rtol=1e-14)
        else:
            assert math.isnan(sol.c_m[m])
        np.testing.assert_allclose(sol.logit_scale[m], alpha * sol.a_m[m] * K / (K - 1))


@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
@pytest.mark.parametrize(("K", "counts"), REDUCED_CASES)
def test_reduced_objective_equals_full_objective_at_constructed_geometry(K, counts, loss):
    sol = reduced_problem(counts, K, loss=loss)
    # build W = alpha U, h_S = a_m sum_{k in S} u_k, b = 0 independently of the library
    U = simplex(K)
    Y = balanced_labels(K, counts)
    W = sol.alpha * U
    H = np.array([sol.a_m[int(y.sum())] * U[y.astype(bool)].sum(0) for y in Y])
    b = np.zeros(K)
    full = full_objective_numpy(W, H, b, Y, loss)
    np.testing.assert_allclose(sol.objective, full, rtol=1e-12)
    # logits formula alpha a_m K/(K-1) (1[j in S] - m/K)
    m = Y.sum(1, keepdims=True)
    scale = np.array([sol.logit_scale[int(k)] for k in m[:, 0]])[:, None]
    np.testing.assert_allclose(H @ W.T, scale * (Y - m / K), atol=1e-12)
    # the constructed geometry is a critical point of the *full* per-sample problem
    f_t, g_norm = full_objective_torch(W, H, b, Y, loss)
    np.testing.assert_allclose(f_t, full, rtol=1e-12)
    assert g_norm < 1e-10
    # the library's geometry() builds the same thing (any d >= K - 1)
    for d in (K - 1, K, K + 2):
        geo = sol.geometry(n_features=d)
        assert geo.W.shape == (K, d) and geo.H.shape == (len(Y), d)
        np.testing.assert_array_equal(geo.Y, Y)
        np.testing.assert_allclose(geo.W @ geo.W.T, W @ W.T, atol=1e-12)
        np.testing.assert_allclose(geo.H @ geo.W.T, H @ W.T, atol=1e-12)
        got = full_objective_numpy(geo.W, geo.H, geo.b, geo.Y, loss)
        np.testing.assert_allclose(got, full, rtol=1e-12)


def test_reduced_collapses_to_zero_under_strong_regularisation():
    K, counts = 4, {1: 3, 2: 1}
    N = 18
    # closed-form threshold: zero is a strict local minimiser iff
    # lam_w lam_h K > sum_m n_m C(K,m) w_m^2 m (K-m) / (N^2 (K-1))
    thresh = sum(n * math.comb(K, m) * m * (K - m) for m, n in counts.items()) / (N**2 * (K - 1))
    lam_star = math.sqrt(thresh / K)
    below = reduced_problem(counts, K, weight_decay=0.98 * lam_star, lambda_h=0.98 * lam_star)
    assert not below.collapsed and below.alpha > 0 and not below.zero_is_local_min
    assert below.objective < below.zero_objective
    above = reduced_problem(counts, K, weight_decay=1.02 * lam_star, lambda_h=1.02 * lam_star)
    assert above.collapsed and above.zero_is_local_min
    assert above.alpha == 0.0 and all(a == 0.0 for a in above.a_m.values())
    assert all(math.isnan(c) for c in above.c_m.values())
    zero = sum(n * math.comb(K, m) * m * math.log(K) for m, n in counts.items()) / N
    np.testing.assert_allclose(above.objective, zero, rtol=1e-14)
    assert any("too strong" in n for n in above.notes)
    # the numerical solver agrees: everything shrinks to zero
    sol = solve_ufm(balanced_labels(K, counts), weight_decay=0.5, lambda_h=0.5, random_state=0)
    assert sol.converged
    assert np.abs(sol.W).max() < 1e-8 and np.abs(sol.H).max() < 1e-8
    np.testing.assert_allclose(sol.objective, zero, rtol=1e-12)


def test_reduced_full_label_set_and_missing_singletons():
    sol = reduced_problem({1: 2, 2: 1, 4: 3}, 4)
    assert sol.a_m[4] == 0.0 and math.isnan(sol.c_m[4])
    assert any("m=K" in n for n in sol.notes)
    Y = balanced_labels(4, {1: 2, 2: 1, 4: 3})
    geo = sol.geometry()
    np.testing.assert_allclose(
        full_objective_numpy(geo.W, geo.H, geo.b, Y, "pal"), sol.objective, rtol=1e-12
    )
    np.testing.assert_allclose(solve_ufm(Y, random_state=0).objective, sol.objective, rtol=1e-10)
    no_singles = reduced_problem({2: 3}, 4)
    assert math.isnan(no_singles.c_m[2]) and any("n_1 = 0" in n for n in no_singles.notes)


# --------------------------------------------------------------------------------------------
# imbalance, BCE, arbitrary label matrices
# --------------------------------------------------------------------------------------------
def test_imbalance_within_multiplicity_breaks_the_geometry():
    K = 4
    Y = balanced_labels(K, {1: 3, 2: 1})
    Y = np.vstack([Y, np.tile([1.0, 1.0, 0.0, 0.0], (4, 1))])  # pair {0, 1}: 5x the others
    sol = solve_ufm(Y, random_state=0)
    assert sol.converged and not sol.theorem_applies
    assert any("multiplicity 2" in n for n in sol.notes)
    W = sol.W
    gram = W @ W.T
    # the classifier is no longer an ETF: row norms and angles differ (measured: norms differ
    # by ~2 %, cosines spread over [-0.40, -0.17])
    assert np.ptp(np.linalg.norm(W, axis=1)) / np.linalg.norm(W, axis=1).mean() > 0.01
    cos = gram / np.sqrt(np.outer(np.diag(gram), np.diag(gram)))
    assert np.ptp(cos[~np.eye(K, dtype=bool)]) > 0.1
    pytest.importorskip("sklearn_mlabnc.collapse")
    rep = sol.report()
    # measured: nc2_classifier 0.148, nc2_means 0.045, nc3 0.060, nc_m[2] 0.038
    assert rep.nc2_classifier > 0.05
    assert rep.nc2_means > 0.01
    assert rep.nc3 > 0.02
    assert rep.nc_m[2] > 0.01
    assert any("imbalanc" in n.lower() and "2" in n for n in rep.notes)


@pytest.mark.parametrize("K", [3, 5])
def test_bce_converges(K):
    Y = balanced_labels(K, {1: 3, 2: 1})
    sol = solve_ufm(Y, loss="bce", random_state=0)
    assert sol.converged and sol.grad_norm < 1e-10
    assert not sol.theorem_applies
    f_t, g_norm = full_objective_torch(sol.W, sol.H, sol.b, Y, "bce")
    np.testing.assert_allclose(f_t, sol.objective, rtol=1e-12)
    assert g_norm < 1e-10
    # BCE logits are sign-correct for every sample
    assert np.all((sol.logits > 0) == Y.astype(bool))


@pytest.mark.parametrize("loss", ["pal", "pal_normalized", "bce"])
def test_arbitrary_labels_set_reduction_is_exact(loss):
    """On unbalanced random data the set-level optimum is a per-sample critical point."""
    rng = np.random.default_rng(42)
    Y = (rng.random((40, 5)) < 0.35).astype(int)
    Y[Y.sum(1) == 0, rng.integers(0, 5)] = 1
    sol = solve_ufm(
        Y,
        loss=loss,
        n_features=6,
        weight_decay=1e-3,
        lambda_h=2e-3,
        bias_decay=1e-2,
        random_state=3,
    )
    assert sol.converged
    # samples with the same label set share one feature
    for s in range(len(sol.label_sets)):
        rows = sol.H[sol.set_index == s]
        np.testing.assert_array_equal(rows, np.broadcast_to(sol.set_features[s], rows.shape))
    np.testing.assert_array_equal(sol.label_sets[sol.set_index], sol.Y)
    f_t, g_norm = full_objective_torch(sol.W, sol.H, sol.b, Y, loss, 1e-3, 2e-3, 1e-2)
    np.testing.assert_allclose(f_t, sol.objective, rtol=1e-12)
    assert g_norm < 1e-9
    # every seed lands on the same minimum
    other = solve_ufm(
        Y,
        loss=loss,
        n_features=6,
        weight_decay=1e-3,
        lambda_h=2e-3,
        bias_decay=1e-2,
        random_state=4,
    )
    np.testing.assert_allclose(other.objective, sol.objective, rtol=1e-10)
    np.testing.assert_allclose(other.H @ other.W.T, sol.H @ sol.W.T, atol=1e-6)


def test_reproducible_and_input_types():
    Y = balanced_labels(3, {1: 2, 2: 1})
    a = solve_ufm(Y, random_state=7)
    b = solve_ufm(Y.astype(bool), random_state=7)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    sp = pytest.importorskip("scipy.sparse")
    c = solve_ufm(sp.csr_array(Y), random_state=7)
    np.testing.assert_array_equal(a.W, c.W)
    d = solve_ufm(torch.tensor(Y), random_state=np.random.default_rng(7))
    np.testing.assert_allclose(d.objective, a.objective, rtol=1e-10)


def test_low_dimension_warns():
    Y = balanced_labels(5, {1: 2, 2: 1})
    with pytest.warns(UserWarning, match="does not apply"):
        sol = solve_ufm(Y, n_features=3, random_state=0)
    assert not sol.theorem_applies
    assert sol.objective > reduced_problem({1: 2, 2: 1}, 5).objective


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "Y",
    [
        [[1, 0, 2], [0, 1, 0]],
        [[1, 0, 0.5], [0, 1, 0]],
        [[1, 0, np.nan], [0, 1, 0]],
        [[-1, 0, 1], [0, 1, 0]],
    ],
)
def test_non_binary_labels_raise(Y):
    with pytest.raises(ValueError, match="0/1 indicator"):
        solve_ufm(np.array(Y))


@pytest.mark.parametrize("Y", [[1, 0, 1], [[[1, 0]]], np.zeros((0, 3)), np.ones((3, 1))])
def test_bad_shapes_raise(Y):
    with pytest.raises(ValueError, match="2-D"):
        solve_ufm(np.asarray(Y))


def test_non_numeric_labels_raise():
    with pytest.raises(ValueError, match="0/1 indicator"):
        solve_ufm(np.array([["a", "b"], ["b", "a"]]))


@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
def test_empty_label_rows_raise_for_pal(loss):
    Y = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match="no labels.*row 1"):
        solve_ufm(Y, loss=loss)
    # BCE is defined on empty label sets
    assert solve_ufm(Y, loss="bce", random_state=0).converged


def test_unknown_loss_raises():
    Y = balanced_labels(3, {1: 1})
    with pytest.raises(ValueError, match="'loss' parameter of solve_ufm .* Got 'mse'"):
        solve_ufm(Y, loss="mse")
    with pytest.raises(ValueError, match="'loss' parameter of reduced_problem .* Got 'bce'"):
        reduced_problem({1: 1}, 3, loss="bce")
    with pytest.raises(ValueError, match="'loss' parameter"):
        reduced_problem({1: 1}, 3, loss="PAL")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weight_decay": 0.0}, "weight_decay"),
        ({"feature_decay": -1.0}, "feature_decay"),
        ({"bias_decay": -1e-3}, "bias_decay"),
        ({"weight_decay": np.inf}, "weight_decay"),
        ({"n_features": 0}, "n_features"),
        ({"n_features": 2.5}, "n_features"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": 0.0}, "tol"),
        ({"tol": np.nan}, "tol"),
        ({"init_scale": 0.0}, "init_scale"),
        ({"init_scale": -1.0}, "init_scale"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_solver_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_ufm(balanced_labels(3, {1: 1}), **kwargs)


@pytest.mark.parametrize(
    ("counts", "K", "match"),
    [
        ({5: 1}, 4, "Multiplicities"),
        ({0: 1}, 4, "Multiplicities"),
        ({1: -1}, 4, "non-negative"),
        ({1: 1.5}, 4, "non-negative"),
        ({1: 0}, 4, "no positive count"),
        ({"one": 1}, 4, "Multiplicities"),
        ({1: None}, 4, "non-negative"),
        ({1: np.nan}, 4, "non-negative"),
        ([3, 1], 4, "Mapping"),
        ({1: 1}, 1, "n_classes"),
        ({1: 1}, 2.5, "n_classes"),
    ],
)
def test_bad_reduced_parameters_raise(counts, K, match):
    with pytest.raises(ValueError, match=match):
        reduced_problem(counts, K)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weight_decay": 0.0}, "weight_decay"),
        ({"feature_decay": np.nan}, "feature_decay"),
        ({"feature_decay": np.inf}, "feature_decay"),
    ],
)
def test_bad_reduced_regularisation_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        reduced_problem({1: 1}, 3, **kwargs)
