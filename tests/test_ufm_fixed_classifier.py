"""The UFM with a fixed classifier, and the UFM's feature penalty in the estimator's units.

The fixed-``W`` optimum is checked against plain gradient descent on the full per-sample
problem written here with torch autograd (independent of the package's gradients and of the
set-level reduction); the feature-penalty conversion against the estimator's own definition.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ufm_helpers import balanced_labels, unit_etf

from sklearn_mlabnc.ufm import reduced_problem, solve_ufm


def gradient_descent_fixed_w(Y, W, loss, weight_decay, feature_decay, bias_decay, steps):
    """Plain gradient descent over every h_i and b of the per-sample objective, W fixed.

    The objective is the estimator's: mean loss + feature_decay * mean ||h_i||^2 +
    weight_decay/2 ||W||^2 + bias_decay/2 ||b||^2. It is strongly convex in (H, b), so a fixed
    step 1/L converges linearly to the unique minimiser.
    """
    Yt = torch.tensor(Y, dtype=torch.float64)
    Wt = torch.tensor(W, dtype=torch.float64)
    T = Yt / Yt.sum(1, keepdim=True) if loss == "pal_normalized" else Yt
    H = torch.zeros(len(Y), W.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    N = len(Y)

    def objective():
        Z = H @ Wt.T + b
        per_sample = -(T * torch.log_softmax(Z, dim=1)).sum(1)
        return (
            per_sample.mean()
            + feature_decay * H.pow(2).sum(1).mean()
            + weight_decay / 2 * Wt.pow(2).sum()
            + bias_decay / 2 * b.pow(2).sum()
        )

    # Lipschitz bound per block: softmax curvature <= 1/2 (times the target mass) times
    # ||W||_2^2, over N for H (one sample each) and over 1 for b (shared by all samples)
    mass = float(T.sum(1).max())
    lip_h = (mass * 0.5 * np.linalg.norm(W, 2) ** 2 + 2 * feature_decay) / N
    lip_b = mass * 0.5 + bias_decay
    for _ in range(steps):
        f = objective()
        gH, gb = torch.autograd.grad(f, (H, b))
        with torch.no_grad():
            H -= gH / lip_h
            b -= gb / lip_b
    f = objective()
    gH, gb = torch.autograd.grad(f, (H, b))
    grad_norm = float(torch.sqrt((gH * N).pow(2).sum() + gb.pow(2).sum()))
    return H.detach().numpy(), b.detach().numpy(), float(f.detach()), grad_norm


@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
def test_fixed_etf_gradient_descent_agrees_with_reduced_problem(loss):
    K, counts = 4, {1: 3, 2: 1}
    decays = dict(weight_decay=5e-3, feature_decay=0.05)
    Y = balanced_labels(K, counts)
    H, b, f, grad_norm = gradient_descent_fixed_w(
        Y, unit_etf(K), loss, bias_decay=5e-3, steps=4000, **decays
    )
    assert grad_norm < 1e-9
    ref = reduced_problem(counts, K, loss=loss, fixed_classifier="etf", **decays)
    geometry = ref.geometry()
    np.testing.assert_allclose(H, geometry.H, atol=1e-5)
    np.testing.assert_allclose(b, 0.0, atol=1e-5)
    np.testing.assert_allclose(f, ref.objective, rtol=1e-5)
    # the tag-wise scale from the descent's features, by projection on the singleton sums
    U = unit_etf(K)
    a = {
        m: float(H[i] @ U[Y[i] == 1].sum(0)) / np.sum(U[Y[i] == 1].sum(0) ** 2)
        for m, i in ((1, 0), (2, len(Y) - 1))
    }
    np.testing.assert_allclose(2 * a[2] / a[1], ref.c_m[2], rtol=1e-5)


@pytest.mark.parametrize("loss", ["pal", "pal_normalized"])
@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_full_solver_with_fixed_classifier_matches_reduced(loss, scale):
    K, counts = 5, {1: 2, 2: 1, 3: 1}
    Y = balanced_labels(K, counts)
    fixed = "etf" if scale == 1.0 else scale * unit_etf(K)
    sol = solve_ufm(Y, loss=loss, fixed_classifier=fixed, feature_decay=0.02, random_state=0)
    ref = reduced_problem(counts, K, loss=loss, fixed_classifier=scale, feature_decay=0.02)
    assert sol.converged
    np.testing.assert_allclose(sol.W, scale * unit_etf(K), rtol=0, atol=1e-15)  # W fixed
    np.testing.assert_allclose(sol.objective, ref.objective, rtol=1e-10)
    report = sol.report()
    for m in (2, 3):
        np.testing.assert_allclose(report.c_m[m], ref.c_m[m], rtol=1e-7)
    assert max(ref.stationarity_residuals().values()) < 1e-12
    assert "fixed" in sol.problem and "fixed" in ref.problem


def test_fixed_classifier_optimum_differs_from_learned():
    """The paper reproduction's counts and decays: a fixed unit ETF has a lower c_2."""
    counts, decays = {1: 100, 2: 20}, dict(weight_decay=5e-3, feature_decay=0.03)
    learned = {
        loss: reduced_problem(counts, 10, loss=loss, **decays)
        for loss in ("pal", "pal_normalized")
    }
    fixed = {
        loss: reduced_problem(counts, 10, loss=loss, fixed_classifier="etf", **decays)
        for loss in ("pal", "pal_normalized")
    }
    assert round(learned["pal"].c_m[2], 3) == 1.783
    assert round(learned["pal_normalized"].c_m[2], 3) == 1.554
    assert round(fixed["pal"].c_m[2], 3) == 1.731
    assert round(fixed["pal_normalized"].c_m[2], 3) == 1.410
    assert "W learned" in learned["pal"].problem and "W fixed" in fixed["pal"].problem


def test_feature_decay_is_the_estimators_per_sample_penalty():
    """feature_decay = f gives the UFM lambda_H = 2 f / N, the estimator's mean penalty."""
    K, counts = 4, {1: 3, 2: 1}
    N = 18
    per_sample = reduced_problem(counts, K, feature_decay=0.03)
    direct = reduced_problem(counts, K, lambda_h=2 * 0.03 / N)
    assert per_sample.lambda_h == pytest.approx(2 * 0.03 / N, rel=1e-15)
    assert per_sample.feature_decay == 0.03 and direct.feature_decay == pytest.approx(0.03)
    assert per_sample.alpha == pytest.approx(direct.alpha, rel=1e-12)
    Y = balanced_labels(K, counts)
    sol = solve_ufm(Y, feature_decay=0.03, random_state=0)
    # the estimator's objective at the solution: mean loss + f * mean ||h||^2 + wd/2 ||W||^2
    Z = sol.logits
    loss = -(Y * (Z - np.log(np.exp(Z).sum(1, keepdims=True)))).sum(1).mean()
    estimator_objective = loss + 0.03 * np.sum(sol.H**2, 1).mean() + 5e-4 / 2 * np.sum(sol.W**2)
    np.testing.assert_allclose(sol.objective, estimator_objective, rtol=1e-12)
    np.testing.assert_allclose(sol.objective, per_sample.objective, rtol=1e-10)
    with pytest.raises(ValueError, match="not both"):
        reduced_problem(counts, K, feature_decay=0.03, lambda_h=1e-3)
    with pytest.raises(ValueError, match="not both"):
        solve_ufm(Y, feature_decay=0.03, lambda_h=1e-3)


def test_estimator_value_taken_as_lambda_h_collapses_to_zero():
    """Reading the estimator's 0.03 as lambda_H itself gives the trivial solution."""
    counts = {1: 100, 2: 20}
    assert reduced_problem(counts, 10, weight_decay=5e-3, lambda_h=0.03).collapsed
    assert not reduced_problem(counts, 10, weight_decay=5e-3, feature_decay=0.03).collapsed


@pytest.mark.parametrize("fixed", [None, "etf"])
def test_with_per_sample_feature_decay_n_cancels(fixed):
    """c_m depends on lambda_W * feature_decay, K and the proportions n_m / N only.

    With W fixed it depends on neither the counts nor lambda_W.
    """
    kw = dict(fixed_classifier=fixed)
    base = reduced_problem({1: 100, 2: 20}, 10, weight_decay=5e-3, feature_decay=0.03, **kw)
    fewer = reduced_problem({1: 5, 2: 1}, 10, weight_decay=5e-3, feature_decay=0.03, **kw)
    np.testing.assert_allclose(fewer.c_m[2], base.c_m[2], rtol=1e-10)
    if fixed is None:  # the product of the decays, not each one (W's scale is free)
        traded = reduced_problem({1: 5, 2: 1}, 10, weight_decay=1.5e-2, feature_decay=0.01)
        np.testing.assert_allclose(traded.c_m[2], base.c_m[2], rtol=1e-10)
    # another mix of multiplicities changes it when W is learned (through W's scale), not
    # when W is fixed: each a_m then solves 2 f a_m (m e^t + K - m) = alpha K w_m on its own
    mix = reduced_problem({1: 20, 2: 100}, 10, weight_decay=5e-3, feature_decay=0.03, **kw)
    if fixed is None:
        assert abs(mix.c_m[2] - base.c_m[2]) > 1e-3
    else:
        np.testing.assert_allclose(mix.c_m[2], base.c_m[2], rtol=1e-12)


def test_bad_fixed_classifier_raises():
    Y = balanced_labels(3, {1: 1, 2: 1})
    with pytest.raises(ValueError, match="n_features >= n_classes"):
        solve_ufm(Y, fixed_classifier="etf", n_features=2)
    with pytest.raises(ValueError, match=r"\(n_classes, n_features\)"):
        solve_ufm(Y, fixed_classifier=np.ones((2, 3)))
    with pytest.raises(ValueError, match="n_features=4"):
        solve_ufm(Y, fixed_classifier=np.ones((3, 3)), n_features=4)
    with pytest.raises(ValueError, match="fixed_classifier"):
        solve_ufm(Y, fixed_classifier="learned")
    with pytest.raises(ValueError, match="fixed_classifier"):
        reduced_problem({1: 1}, 3, fixed_classifier=-1.0)
    assert math.isclose(reduced_problem({1: 1}, 3, fixed_classifier=2.0).alpha, 2.0)
