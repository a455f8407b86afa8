"""The report's bias metric (collapse/_bias.py) and NC1's conditioning guard.

Both are checked against direct numpy computations on small, hand-made geometries.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from sklearn_mlabnc.collapse import collapse_report, nc1


def _collapsed(K=4, n=3, seed=0):
    rng = np.random.default_rng(seed)
    U = np.eye(K) - 1.0 / K
    Y = np.repeat(np.eye(K, dtype=int), n, axis=0)
    H = Y @ U * 2.0 + rng.normal(scale=1e-3, size=(K * n, K))
    return H, Y, U


def _direct_logit_scale(H, Y, W, b):
    means = np.array([H[Y[:, k] == 1].mean(axis=0) for k in range(Y.shape[1])])
    logits = means @ W.T
    logits -= logits.mean(axis=1, keepdims=True)
    return np.sqrt(np.mean((b - b.mean()) ** 2)) / np.sqrt(np.mean(logits**2))


def test_default_bias_metric_is_the_spread_against_the_logit_scale():
    H, Y, W = _collapsed()
    b = np.array([0.3, -0.1, 0.05, 0.2])
    rep = collapse_report(H, Y, W=W, b=b)
    assert rep.options["bias_metric"] == "logit_scale"
    assert rep.bias_deviation == pytest.approx(_direct_logit_scale(H, Y, W, b), rel=1e-12)
    assert "(logit_scale)" in str(rep)


def test_logit_scale_metric_ignores_what_softmax_ignores():
    """A constant added to b, and a common rescaling of W and b, change nothing."""
    H, Y, W = _collapsed()
    b = np.array([0.3, -0.1, 0.05, 0.2])
    base = collapse_report(H, Y, W=W, b=b).bias_deviation
    shifted = collapse_report(H, Y, W=W, b=b + 7.0).bias_deviation
    scaled = collapse_report(H, Y, W=3 * W, b=3 * b).bias_deviation
    assert shifted == pytest.approx(base, rel=1e-12) and scaled == pytest.approx(base, rel=1e-12)
    assert collapse_report(H, Y, W=W, b=np.full(4, -2.0)).bias_deviation == 0.0


def test_ratio_is_uninformative_near_the_pal_optimum_where_logit_scale_is_not():
    """At PAL's optimum b = 0; rounding noise makes the ratio ~1, the spread stays ~0."""
    H, Y, W = _collapsed()
    noise = np.random.default_rng(1).normal(scale=1e-12, size=4)
    noise -= noise.mean()  # PAL's bias gradients sum to zero: the mean stays 0
    ratio = collapse_report(H, Y, W=W, b=noise, bias_metric="ratio")
    spread = collapse_report(H, Y, W=W, b=noise)
    assert ratio.bias_deviation == pytest.approx(1.0)
    assert ratio.options["bias_metric"] == "ratio" and "(ratio)" in str(ratio)
    assert spread.bias_deviation < 1e-11


def test_logit_scale_bias_metric_needs_w():
    H, Y, _ = _collapsed()
    with pytest.warns(RuntimeWarning, match="needs the classifier weights W"):
        rep = collapse_report(H, Y, b=np.arange(4.0))
    assert math.isnan(rep.bias_deviation)
    assert collapse_report(H, Y, b=np.arange(4.0), bias_metric="ratio").bias_deviation > 0
    with pytest.raises(ValueError, match="bias_metric"):
        collapse_report(H, Y, bias_metric="relative")


def _ill_conditioned(seed=0):
    """Three classes on a line in x; y separates them by 1e-5 and spreads 1e-6 within."""
    rng = np.random.default_rng(seed)
    Y = np.repeat(np.eye(3, dtype=int), 50, axis=0)
    means = np.array([[0.0, 0.0], [1.0, 1e-5], [2.0, -1e-5]])
    H = np.repeat(means, 50, axis=0) + rng.normal(size=(150, 2)) * np.array([1e-2, 1e-6])
    return H, Y


def test_nc1_warns_when_a_negligible_direction_dominates():
    H, Y = _ill_conditioned()
    # the y direction's share, computed directly: within-class variance over eigenvalue
    centred = H - np.array([H[Y[:, k] == 1].mean(0) for k in range(3)])[Y.argmax(1)]
    within = centred.var(axis=0)
    means = np.array([H[Y[:, k] == 1].mean(0) for k in range(3)])
    between = np.linalg.eigvalsh(np.cov((means - means.mean(0)).T, bias=True))
    y_share = within[1] / within.sum()
    with pytest.warns(RuntimeWarning, match="NC1 is ill-conditioned") as record:
        value = nc1(H, Y)
    message = str(record[0].message)
    assert f"{y_share:.1e} of the within-class variance" in message
    assert "99% of its value" in message
    # the value itself is right: tr(Sigma_W Sigma_B^+) / C
    sigma_w = centred.T @ centred / len(H)
    A = means - means.mean(0)
    assert value == pytest.approx(np.trace(sigma_w @ np.linalg.pinv(A.T @ A / 3)) / 3, rel=1e-6)
    assert between[0] / between[1] < 1e-9
    report = collapse_report(H, Y)
    assert any("ill-conditioned" in note for note in report.notes)


def test_nc1_does_not_warn_on_a_well_conditioned_geometry():
    H, Y, _ = _collapsed()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nc1(H, Y)
