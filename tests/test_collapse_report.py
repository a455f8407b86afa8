"""Tests of the report layer: options, shared docstrings, statistics input, outputs, projection."""

import itertools
import math
import warnings

import numpy as np
import pytest

from sklearn_mlabnc.collapse import (
    CollapseStatistics,
    NeuralCollapseAnalyzer,
    ReportOptions,
    collapse_report,
    soft_iou,
)
from sklearn_mlabnc.collapse._docstrings import REPORT_OPTIONS_DOC
from sklearn_mlabnc.collapse._outputs import linear_logits, soft_iou_from_sums, soft_iou_sums
from sklearn_mlabnc.collapse._projection import geometry_projection, pca_basis, polygon_basis
from sklearn_mlabnc.distributed import collapse_report_from_dask


def _data(seed=0, K=3, d=5, n=90):
    rng = np.random.default_rng(seed)
    sets = [(k,) for k in range(K)] + list(itertools.combinations(range(K), 2))
    Y = np.zeros((n, K), dtype=int)
    for i in range(n):
        Y[i, list(sets[i % len(sets)])] = 1
    H = Y @ rng.normal(size=(K, d)) + 0.2 * rng.normal(size=(n, d))
    W, b = rng.normal(size=(K, d)), rng.normal(size=K)
    return H, Y, W, b


# ------------------------------------------------------------------------- options
def test_report_options_defaults_and_dict():
    opts = ReportOptions()
    assert opts.as_dict() == {
        "classes": "singletons",
        "inverse": "pinv",
        "global_mean": "weighted",
        "centered": True,
        "tagwise_centered": False,
        "max_subsets": 2000,
        "random_state": 0,
    }
    with pytest.raises(AttributeError):
        opts.classes = "label_sets"  # frozen


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes": "pairs"}, "'classes' parameter of ReportOptions"),
        ({"inverse": "eig"}, "'inverse' parameter"),
        ({"global_mean": "median"}, "'global_mean' parameter"),
        ({"centered": "yes"}, "'centered' parameter"),
        ({"max_subsets": 0}, "'max_subsets' parameter"),
        ({"random_state": -1}, "'random_state' parameter"),
    ],
)
def test_report_options_reject_out_of_range_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReportOptions(**kwargs)


def test_every_way_to_a_report_takes_the_same_options():
    H, Y, W, b = _data()
    opts = ReportOptions(classes="label_sets", global_mean="class_means", centered=False)
    stats = CollapseStatistics().partial_fit(H, Y)
    expected = collapse_report(H, Y, W, b, **opts.as_dict()).to_dict()
    from_stats = collapse_report(stats, W=W, b=b, options=opts).to_dict()
    from_kwargs = collapse_report(stats, W=W, b=b, **opts.as_dict()).to_dict()
    nca = NeuralCollapseAnalyzer(W=W, b=b, **opts.as_dict()).fit(H, Y).report_.to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dask_rep = collapse_report_from_dask(H, Y, W, b, options=opts, scheduler="sync")
    for got in (from_stats, from_kwargs, nca, dask_rep.to_dict()):
        for key in ("nc1", "nc2_means", "nc3", "nc_m_2"):
            assert got[key] == pytest.approx(expected[key], rel=1e-9), key
        for key in ("option_classes", "option_centered"):  # not numbers: compared exactly
            assert got[key] == expected[key], key
    with pytest.raises(TypeError, match=r"unknown report option\(s\) \['clases'\]"):
        ReportOptions.from_kwargs(clases="label_sets")
    with pytest.raises(TypeError, match="unexpected keyword argument 'clases'"):
        collapse_report(stats, clases="label_sets")
    # keywords other than their defaults override the options
    overridden = collapse_report(stats, W=W, b=b, options=opts, inverse="svd").to_dict()
    assert (overridden["option_inverse"], overridden["option_classes"]) == ("svd", "label_sets")


def test_collapse_report_accepts_statistics():
    H, Y, W, b = _data(1)
    stats = CollapseStatistics().partial_fit(H, Y)
    a = collapse_report(stats, W=W, b=b).to_dict()
    c = collapse_report(H, Y, W, b).to_dict()
    for key, value in c.items():
        if key in ("nc4", "soft_iou"):
            assert math.isnan(a[key])  # per-sample metrics need H and Y
        elif isinstance(value, float):
            assert a[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    with pytest.raises(ValueError, match="not both"):
        collapse_report(stats, Y)
    with pytest.raises(ValueError, match="pass \\(H, Y\\) instead"):
        collapse_report(stats, predictions=Y)


def test_report_options_paragraph_is_written_once_and_substituted():
    first = REPORT_OPTIONS_DOC.splitlines()[0]
    for obj in (
        collapse_report,
        NeuralCollapseAnalyzer,
        ReportOptions,
        collapse_report_from_dask,
    ):
        doc = obj.__doc__
        assert "{report_options}" not in doc, obj
        assert first in doc, obj
        # the whole paragraph, re-indented, is in place
        lines = [line.strip() for line in doc.splitlines()]
        for line in REPORT_OPTIONS_DOC.splitlines():
            assert line.strip() in lines, (obj, line)


# ------------------------------------------------------------------------- outputs
def test_soft_iou_sums_add_up_over_chunks():
    H, Y, W, b = _data(2)
    Y[:3] = 0  # empty rows are left out
    Z = H @ W.T + b
    total, kept = soft_iou_sums(Z, Y)
    assert kept == len(Y) - 3
    parts = [soft_iou_sums(Z[a : a + 17], Y[a : a + 17]) for a in range(0, len(Y), 17)]
    assert sum(t for t, _ in parts) == pytest.approx(total, rel=1e-12)
    assert sum(k for _, k in parts) == kept
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    ref = (P * Y).sum(axis=1)[3:].mean()
    assert soft_iou(Z, Y) == pytest.approx(ref, rel=1e-12)
    assert soft_iou_from_sums(total, kept) == pytest.approx(ref, rel=1e-12)
    with pytest.warns(RuntimeWarning, match="no sample has a non-empty label set"):
        assert math.isnan(soft_iou_from_sums(0.0, 0))


def test_linear_logits_match_numpy_and_torch():
    H, _, W, b = _data(3)
    np.testing.assert_allclose(linear_logits(H, W, b), H @ W.T + b, rtol=1e-12)
    np.testing.assert_allclose(linear_logits(H, W), H @ W.T, rtol=1e-12)
    torch = pytest.importorskip("torch")
    out = linear_logits(torch.from_numpy(H), torch.from_numpy(W), torch.from_numpy(b))
    np.testing.assert_allclose(out.numpy(), H @ W.T + b, rtol=1e-12)


# ------------------------------------------------------------------------- batches
def test_from_batches_equals_one_partial_fit():
    H, Y, W, _ = _data(4)
    one = CollapseStatistics().partial_fit(H, Y)
    many = CollapseStatistics.from_batches(
        (H[a : a + 10], Y[a : a + 10]) for a in range(0, 90, 10)
    )
    np.testing.assert_allclose(many.means_, one.means_, rtol=1e-12)
    assert collapse_report(many, W=W).nc1 == pytest.approx(
        collapse_report(one, W=W).nc1, rel=1e-10
    )


# ---------------------------------------------------------------------- projection
def test_geometry_projection_of_an_exact_etf():
    K = 3
    U = np.eye(K) - 1.0 / K  # centred simplex directions, equal norms
    sets = [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2)]
    Y = np.zeros((2 * len(sets), K), dtype=int)
    for i, s in enumerate(sets * 2):
        Y[i, list(s)] = 1
    H = (Y @ U) * np.where(Y.sum(axis=1) == 1, 1.0, 0.35)[:, None] + 5.0  # common offset
    geo = geometry_projection(CollapseStatistics().partial_fit(H, Y).summary(), W=U)
    z = geo.singletons
    # the projection keeps the ETF: equal norms, pairwise cosines -1/(K-1), origin at mu_G
    norms = np.linalg.norm(z, axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(U[0]), rtol=1e-9)
    cos = (z @ z.T) / np.outer(norms, norms)
    np.testing.assert_allclose(cos[~np.eye(K, dtype=bool)], -0.5, atol=1e-9)
    np.testing.assert_allclose(geo.explained.sum(), 1.0, rtol=1e-9)
    # c_2: least squares of the uncentred pair means on the mean of their singleton means
    mu = {s: H[(Y == np.isin(np.arange(K), s)).all(axis=1)].mean(axis=0) for s in sets}
    a = {s: (mu[(s[0],)] + mu[(s[1],)]) / 2 for s in sets[K:]}
    c2 = sum(mu[s] @ a[s] for s in a) / sum(a[s] @ a[s] for s in a)
    assert geo.c_m[2] == pytest.approx(c2, rel=1e-12)
    # the centred pair means lie in the singletons' plane: the projection keeps their norm
    pair_norms = [np.linalg.norm(0.35 * (U[i] + U[j])) for i, j in [(0, 1), (0, 2), (1, 2)]]
    np.testing.assert_allclose(np.linalg.norm(geo.set_means, axis=1), pair_norms, rtol=1e-9)
    assert geo.set_means.shape == geo.predictions.shape == (3, 2)
    assert geo.n_hidden == 0 and geo.classifier.shape == (K, 2)
    with pytest.raises(ValueError, match="W must have shape"):
        geometry_projection(CollapseStatistics().partial_fit(H, Y).summary(), W=U[:2])
    with pytest.raises(ValueError, match="basis must be one of"):
        geometry_projection(CollapseStatistics().partial_fit(H, Y).summary(), basis="tsne")


@pytest.mark.parametrize("K", [5, 10])
def test_polygon_view_of_an_etf_is_a_regular_polygon(K):
    rng = np.random.default_rng(K)
    Q, _ = np.linalg.qr(rng.normal(size=(K + 3, K)))  # an ETF in a random K-dim subspace
    A = (np.eye(K) - 1.0 / K) @ Q.T
    P, share = polygon_basis(A, np.zeros((0, K + 3)), 2)
    np.testing.assert_allclose(P @ P.T, np.eye(2), atol=1e-12)
    z = A @ P.T
    radii = np.linalg.norm(z, axis=1)
    np.testing.assert_allclose(radii, radii[0], rtol=1e-9)
    # consecutive labels 2 pi / K apart, in order around the circle
    turns = np.diff(np.unwrap(np.arctan2(z[:, 1], z[:, 0])))
    np.testing.assert_allclose(np.abs(turns), 2 * np.pi / K, rtol=1e-9)
    # an ETF spreads evenly over its K - 1 directions: a plane keeps 2 / (K - 1)
    np.testing.assert_allclose(share, 1.0 / (K - 1), rtol=1e-9)
    # PCA of the same ETF keeps as much, on an arbitrary pair of its equal directions
    _, share_pca = pca_basis(A, np.zeros((0, K + 3)), 2)
    np.testing.assert_allclose(share_pca, 1.0 / (K - 1), rtol=1e-6)
