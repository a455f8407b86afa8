"""Property-based tests (hypothesis) of the collapse metrics and CollapseStatistics.

The spec is the docstrings of :mod:`sklearn_mlabnc.collapse` (and section 4 of the MLab NC
reference). Random problems: ``K`` in 2..6 labels, ``d`` in ``K..12`` plus some ``d < K - 1``,
every singleton label set present (so the metrics are defined) and a random choice of label
sets of multiplicity 2 and 3, a few samples per set, features = class structure + noise
(float64).

Which invariances hold (and are tested):

* rotation ``H -> H Q``, ``W -> W Q`` (``Q`` orthogonal): every metric (Gram matrices,
  traces, angles and distances are rotation invariant);
* common positive scaling ``H -> s H``, ``W -> t W``: every metric except the soft IoU of
  the logits ``H W^T + b`` (the logits change);
* permuting labels (columns of ``Y``, rows of ``W``, entries of ``b``): every metric, the
  per-label-set residuals after renaming their labels;
* reordering samples: every metric;
* translation ``H -> H + c``: only the *centred* metrics (NC1 with a ``'weighted'`` or
  ``'class_means'`` global mean, centred NC2 of the means, NC3, centred NC_m / ``c_m``, NC4,
  and trivially NC2 of the classifier). NOT invariant, so not tested: the uncentred NC2 of
  the means and the uncentred (paper) NC_m / ``c_m`` (they measure angles and Gram matrices
  of raw means, which a translation changes); NC1 / NC2 / NC3 with ``global_mean='paper'``
  (that "global mean" sums the multiplicity-1 features but divides by all ``n`` samples, so
  it moves by ``c * n_1 / n`` instead of ``c`` unless every sample has multiplicity 1); the
  soft IoU of ``H W^T + b`` (the logits move by ``c W^T``).
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sklearn_mlabnc.collapse import (
    CollapseStatistics,
    collapse_report,
    nc1,
    nc2,
    nc3,
    nc4,
    soft_iou,
    tagwise_average,
)

# Deterministic (derandomized, no example database) so CI runs are reproducible. The
# profile is registered here and used as the parent of every test's settings; it is not
# loaded globally, so other test files are unaffected.
settings.register_profile(
    "collapse-properties",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # no 'explain' phase: it only annotates failures, and has crashed inside hypothesis
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("collapse-properties")

# Degenerate draws (d < K - 1, ...) warn by design; tests that check a warning use
# pytest.warns, which records regardless of this filter.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RTOL = 1e-8
ATOL = 1e-11

CLASSES = ("singletons", "label_sets")
INVERSES = ("pinv", "svd")
GLOBAL_MEANS = ("weighted", "class_means", "paper")


# -------------------------------------------------------------------------- strategies
class Problem:
    """A random multi-label problem: features ``H``, indicator ``Y``, classifier ``W, b``."""

    def __init__(self, H, Y, W, b, sets):
        self.H, self.Y, self.W, self.b, self.sets = H, Y, W, b, sets
        self.n, self.K = Y.shape
        self.d = H.shape[1]

    def __repr__(self):
        counts = {S: int(np.all(self.Y == _indicator(S, self.K), axis=1).sum()) for S in self.sets}
        return f"Problem(K={self.K}, d={self.d}, n={self.n}, counts={counts})"


def _indicator(S, K):
    y = np.zeros(K, dtype=np.int64)
    y[list(S)] = 1
    return y


SINGLETON_COUNTS = st.integers(2, 3)
SET_COUNTS = st.integers(1, 3)


@st.composite
def problems(
    draw,
    min_K=2,
    small_d=True,
    singleton_counts=SINGLETON_COUNTS,
    set_counts=SET_COUNTS,
    drop_singleton=False,
):
    """Strategy for :class:`Problem`.

    ``small_d`` allows some ``d < K - 1`` draws; ``drop_singleton`` removes one label's
    singleton set (and makes sure that label occurs in some larger set).
    """
    K = draw(st.integers(min_K, 6))
    if small_d and K >= 3 and draw(st.integers(0, 3)) == 0:
        d = draw(st.integers(1, K - 2))
    else:
        d = draw(st.integers(K, 12))
    candidates = [S for m in (2, 3) if m <= K for S in itertools.combinations(range(K), m)]
    multi = draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1, max_size=6))
    singles = [(k,) for k in range(K)]
    if drop_singleton:
        missing = draw(st.integers(0, K - 1))
        singles.remove((missing,))
        if not any(missing in S for S in multi):
            multi.append(next(S for S in candidates if missing in S))
    sets = singles + sorted(multi, key=lambda S: (len(S), S))
    counts = [draw(singleton_counts if len(S) == 1 else set_counts) for S in sets]
    seed = draw(st.integers(0, 2**32 - 1))
    noise = draw(st.sampled_from([0.05, 0.3, 1.0]))
    offset_scale = draw(st.sampled_from([0.0, 1.0, 3.0]))

    rng = np.random.default_rng(seed)
    U = 3.0 * rng.normal(size=(K, d))  # label directions (class structure)
    offset = offset_scale * rng.normal(size=d)  # common offset: uncentred != centred
    rows, feats = [], []
    for S, n_S in zip(sets, counts, strict=True):
        c_S = 1.0 if len(S) == 1 else rng.uniform(0.3, 1.2)
        mu_S = offset + c_S * U[list(S)].mean(axis=0) + 0.2 * rng.normal(size=d)
        for _ in range(n_S):
            rows.append(_indicator(S, K))
            feats.append(mu_S + noise * rng.normal(size=d))
    perm = rng.permutation(len(rows))
    H = np.asarray(feats, dtype=np.float64)[perm]
    Y = np.asarray(rows)[perm]
    W = rng.normal(size=(K, d))
    b = rng.normal(size=K)
    return Problem(H, Y, W, b, sets)


# --------------------------------------------------------------------------- helpers
def _metrics(H, Y, W, b, predictions, relabel=None):
    """Every metric of (H, Y, W) as ``{key: float}``, plus the set of warning messages.

    ``relabel`` maps a label index to the name used in the keys of per-label-set results
    (for comparing runs whose labels were permuted).
    """
    relabel = relabel or (lambda k: k)
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = CollapseStatistics().partial_fit(H, Y)
        for c, i, g in itertools.product(CLASSES, INVERSES, GLOBAL_MEANS):
            out[f"nc1[{c},{i},{g}]"] = nc1(stats, classes=c, inverse=i, global_mean=g)
        for g in GLOBAL_MEANS:
            r = nc2(stats, W=W, centered=True, global_mean=g)
            out[f"nc2_means[centred,{g}]"] = r.means
            out["nc2_classifier"] = r.classifier
            out[f"nc3[{g}]"] = nc3(stats, W=W, global_mean=g)
        out["nc2_means[uncentred]"] = nc2(stats, centered=False).means
        for centred in (False, True):
            tag = "centred" if centred else "uncentred"
            tw = tagwise_average(stats, centered=centred)
            for m in tw.nc_m:
                out[f"nc_m[{tag},{m}]"] = tw.nc_m[m]
                out[f"c_m[{tag},{m}]"] = tw.c_m[m]
                out[f"n_skipped[{m}]"] = float(tw.n_skipped[m])
            for r in tw.residuals:
                labels = tuple(sorted(relabel(k) for k in r.labels))
                for f in ("count", "angle", "scale", "scale_residual", "relative_residual"):
                    out[f"residual[{tag},{labels}].{f}"] = float(getattr(r, f))
        out["nc4"] = nc4(stats, predictions=predictions, H=H)
        out["soft_iou"] = soft_iou(H @ W.T + b, Y)
    return out, {str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)}


def _assert_same(a, b, keys=None, rtol=RTOL, atol=ATOL):
    if keys is None:
        assert a.keys() == b.keys()
        keys = a.keys()
    for k in keys:
        assert_allclose(b[k], a[k], rtol=rtol, atol=atol, equal_nan=True, err_msg=k)


def _predictions(p, rng):
    """Predicted label sets: the truth with a few rows flipped to another observed set."""
    P = p.Y.copy()
    flip = rng.random(p.n) < 0.3
    P[flip] = p.Y[rng.integers(0, p.n, size=int(flip.sum()))]
    return P


def _orthogonal(d, rng):
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    return Q * np.sign(np.diag(R))


def _is_translation_invariant(key):
    if key.startswith(("nc2_means[uncentred]", "soft_iou")):
        return False
    if "paper" in key or "uncentred" in key:
        return False
    return True


def _report_fields(rep):
    """Every field of a CollapseReport, flattened to ``{key: float}``."""
    out = {k: v for k, v in rep.to_dict().items() if isinstance(v, (int, float))}
    for r in rep.residuals:
        for f in ("count", "angle", "scale", "scale_residual", "relative_residual"):
            out[f"residual[{r.labels}].{f}"] = float(getattr(r, f))
    return out


seeds = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------ 1. invariances
@settings(PROFILE, max_examples=30)
@given(p=problems(), seed=seeds)
def test_rotation_invariance(p, seed):
    rng = np.random.default_rng(seed)
    P = _predictions(p, rng)
    Q = _orthogonal(p.d, rng)
    base, w0 = _metrics(p.H, p.Y, p.W, p.b, P)
    rot, w1 = _metrics(p.H @ Q, p.Y, p.W @ Q, p.b, P)
    _assert_same(base, rot)
    assert w0 == w1  # the same degenerate cases are detected


@settings(PROFILE, max_examples=30)
@given(
    p=problems(),
    seed=seeds,
    s=st.sampled_from([1e-3, 0.25, 7.0, 1e3]),
    t=st.sampled_from([1e-2, 0.5, 3.0, 1e2]),
)
def test_common_scaling_invariance(p, seed, s, t):
    # The soft IoU of the logits H W^T + b is not scale invariant (the logits scale by s t).
    P = _predictions(p, np.random.default_rng(seed))
    base, w0 = _metrics(p.H, p.Y, p.W, p.b, P)
    scaled, w1 = _metrics(s * p.H, p.Y, t * p.W, p.b, P)
    del base["soft_iou"], scaled["soft_iou"]
    _assert_same(base, scaled)
    assert w0 == w1


@settings(PROFILE, max_examples=30)
@given(p=problems(), seed=seeds)
def test_label_permutation_invariance(p, seed):
    rng = np.random.default_rng(seed)
    P = _predictions(p, rng)
    perm = rng.permutation(p.K)  # new label j is old label perm[j]
    base, _ = _metrics(p.H, p.Y, p.W, p.b, P)
    # residual keys of the permuted run are named by the original labels
    permuted, _ = _metrics(
        p.H, p.Y[:, perm], p.W[perm], p.b[perm], P[:, perm], relabel=lambda j: int(perm[j])
    )
    _assert_same(base, permuted)


@settings(PROFILE, max_examples=30)
@given(p=problems(), seed=seeds)
def test_sample_reordering_invariance(p, seed):
    rng = np.random.default_rng(seed)
    P = _predictions(p, rng)
    order = rng.permutation(p.n)
    base, w0 = _metrics(p.H, p.Y, p.W, p.b, P)
    shuffled, w1 = _metrics(p.H[order], p.Y[order], p.W, p.b, P[order])
    _assert_same(base, shuffled)
    assert w0 == w1


# ---------------------------------------------------------------- 2. translations
@settings(PROFILE, max_examples=30)
@given(p=problems(), seed=seeds, size=st.sampled_from([0.5, 10.0, 1e3]))
def test_translation_invariance_of_centred_metrics(p, seed, size):
    rng = np.random.default_rng(seed)
    P = _predictions(p, rng)
    c = size * rng.normal(size=p.d)
    base, _ = _metrics(p.H, p.Y, p.W, p.b, P)
    moved, _ = _metrics(p.H + c, p.Y, p.W, p.b, P)
    keys = [k for k in base if _is_translation_invariant(k)]
    assert any(k.startswith("nc1[") for k in keys)
    assert "nc2_means[centred,weighted]" in keys and "nc3[class_means]" in keys
    # a shift of size 1e3 against features of size ~3 loses ~3 digits to cancellation
    _assert_same(base, moved, keys=keys, rtol=1e-8 * max(1.0, size), atol=1e-9 * size)


@settings(PROFILE, max_examples=15)
@given(p=problems(small_d=False), seed=seeds)
def test_uncentred_metrics_do_change_under_translation(p, seed):
    # Sanity check of the documentation above: the uncentred NC2 of the means is NOT
    # translation invariant (so it is deliberately excluded from the test above).
    c = 5.0 * np.random.default_rng(seed).normal(size=p.d)
    a = nc2(p.H, p.Y, centered=False).means
    b = nc2(p.H + c, p.Y, centered=False).means
    assert not math.isclose(a, b, rel_tol=1e-6)


# ------------------------------------------------------------------------ 3. merging
@settings(PROFILE, max_examples=25)
@given(p=problems(), seed=seeds)
def test_merge_associative_commutative(p, seed):
    rng = np.random.default_rng(seed)
    part = rng.integers(0, 3, size=p.n)  # a part may be empty or miss some label sets
    a, b, c = (CollapseStatistics().partial_fit(p.H[part == j], p.Y[part == j]) for j in range(3))
    one_shot = CollapseStatistics().partial_fit(p.H, p.Y)
    chunked = CollapseStatistics(chunk_size=3).partial_fit(p.H, p.Y)
    streamed = CollapseStatistics()
    for j in range(3):
        streamed.partial_fit(p.H[part == j], p.Y[part == j])
    in_place = CollapseStatistics()
    for x in (b, c, a):
        in_place.merge(x)
    a0, b0 = copy.deepcopy(a), copy.deepcopy(b)
    candidates = {
        "(a+b)+c": (a + b) + c,
        "a+(b+c)": a + (b + c),
        "(c+a)+b": (c + a) + b,
        "b+a+c": b + a + c,
        "sum": sum([c, b, a]),
        "merge": in_place,
        "chunked": chunked,
        "streamed": streamed,
    }
    # __add__ does not modify its operands
    for x, x0 in ((a, a0), (b, b0)):
        assert x.n_samples_ == x0.n_samples_
        np.testing.assert_array_equal(x.counts_, x0.counts_)
        np.testing.assert_array_equal(x.means_, x0.means_)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = _report_fields(collapse_report(one_shot, W=p.W, b=p.b))
        ref_notes = set(collapse_report(one_shot, W=p.W, b=p.b).notes)
        for name, st_ in candidates.items():
            assert st_.n_samples_ == p.n, name
            np.testing.assert_array_equal(st_.label_sets_, one_shot.label_sets_, err_msg=name)
            np.testing.assert_array_equal(st_.counts_, one_shot.counts_, err_msg=name)
            assert_allclose(st_.means_, one_shot.means_, rtol=1e-12, atol=1e-12, err_msg=name)
            rep = collapse_report(st_, W=p.W, b=p.b)
            got = _report_fields(rep)
            assert got.keys() == ref.keys(), name
            for k in ref:
                assert_allclose(
                    got[k], ref[k], rtol=1e-10, atol=1e-10, equal_nan=True, err_msg=f"{name}: {k}"
                )
            assert set(rep.notes) == ref_notes, name


# ------------------------------------------------------------ 4. degenerate cases
@settings(PROFILE, max_examples=20)
@given(p=problems(small_d=False, set_counts=st.just(1)), seed=seeds)
def test_label_set_with_one_sample_is_finite(p, seed):
    # Every multi-label set has a single sample (and one singleton too): all metrics are
    # defined; the report notes the single-sample sets.
    rng = np.random.default_rng(seed)
    k = int(rng.integers(p.K))
    keep = np.ones(p.n, dtype=bool)
    rows = np.flatnonzero(np.all(p.Y == _indicator((k,), p.K), axis=1))
    keep[rows[1:]] = False  # label k is seen alone exactly once
    H, Y = p.H[keep], p.Y[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no warning either
        for c in CLASSES:
            assert np.isfinite(nc1(H, Y, classes=c)) and nc1(H, Y, classes=c) >= 0
        r = nc2(H, Y, W=p.W)
        assert np.isfinite(r.means) and np.isfinite(r.classifier)
        assert np.isfinite(nc3(H, Y, W=p.W))
        tw = tagwise_average(H, Y)
        assert all(np.isfinite(v) for v in tw.nc_m.values())
        assert all(v == 0 for v in tw.n_skipped.values())
        rep = collapse_report(H, Y, W=p.W)
    assert any("single sample" in note for note in rep.notes)


@settings(PROFILE, max_examples=15)
@given(p=problems(small_d=False, singleton_counts=st.just(1), set_counts=st.just(1)))
def test_every_class_single_sample_nc1_nan(p):
    for c in CLASSES:
        with pytest.warns(RuntimeWarning, match="single sample"):
            assert math.isnan(nc1(p.H, p.Y, classes=c))


@settings(PROFILE, max_examples=20)
@given(p=problems(min_K=3, small_d=True), seed=seeds)
def test_d_smaller_than_k_minus_one(p, seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, p.K - 1))  # d <= K - 2
    H, W = p.H[:, :d], p.W[:, :d]
    with pytest.warns(RuntimeWarning, match=r"d=\d+ < K-1"):
        r = nc2(H, p.Y, W=W)
    # An ETF of K vectors needs d >= K-1: the deviation of a rank-<=d Gram matrix from the
    # rank-(K-1) target is at least sqrt(2 - 2 sqrt(d / (K-1))) ("cannot reach 0").
    bound = math.sqrt(2.0 - 2.0 * math.sqrt(d / (p.K - 1)))
    assert r.means >= bound - 1e-9 and r.classifier >= bound - 1e-9
    assert r.means <= math.sqrt(2) + 1e-9 and r.classifier <= math.sqrt(2) + 1e-9
    with pytest.warns(RuntimeWarning, match=r"d=\d+ < K-1"):
        v3 = nc3(H, p.Y, W=W)
    assert np.isfinite(v3)
    with pytest.warns(RuntimeWarning, match="'svd' inverse"):
        assert math.isnan(nc1(H, p.Y, inverse="svd"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        v1 = nc1(H, p.Y, inverse="pinv")
    assert np.isfinite(v1) and v1 >= 0


@settings(PROFILE, max_examples=20)
@given(
    p=problems(),
    value=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).filter(
        lambda v: abs(v) > 1e-3
    ),
)
def test_all_features_equal(p, value):
    # global_mean='paper' is covered by the minimal reproductions below.
    H = np.full_like(p.H, value)
    for c, i, g in itertools.product(CLASSES, INVERSES, ("weighted", "class_means")):
        if i == "svd" and c == "singletons" and p.d < p.K - 1:
            match = "'svd' inverse|between-class scatter is zero"
        else:
            match = "between-class scatter is zero"
        with pytest.warns(RuntimeWarning, match=match):
            assert math.isnan(nc1(H, p.Y, classes=c, inverse=i, global_mean=g)), (c, i, g)
    for g in ("weighted", "class_means"):
        with pytest.warns(RuntimeWarning, match="singleton means coincide"):
            r = nc2(H, p.Y, W=p.W, global_mean=g)
        assert math.isnan(r.means) and np.isfinite(r.classifier)
        with pytest.warns(RuntimeWarning, match="singleton means coincide"):
            assert math.isnan(nc3(H, p.Y, W=p.W, global_mean=g))
    # Uncentred means all equal c != 0: Gram = |c|^2 11^T, orthogonal to the (unit) target,
    # so the deviation is exactly sqrt(2).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # d < K-1 warning
        unc = nc2(H, p.Y, centered=False).means
    assert_allclose(unc, math.sqrt(2), rtol=1e-12)
    # Uncentred NC_m: mu_S = c = a_S, so c_m = 1 (its NC_m, 0/0, is tested below).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tw = tagwise_average(H, p.Y)
    assert_allclose(list(tw.c_m.values()), 1.0, rtol=1e-12)
    # Centred NC_m: every centred mean is zero -> NaN with a warning.
    with pytest.warns(RuntimeWarning, match="NC_m"):
        twc = tagwise_average(H, p.Y, centered=True)
    assert all(math.isnan(v) for v in twc.nc_m.values())


# Minimal reproduction: two labels, one pair sample, all features equal to 1.
_CONST_Y = np.array([[1, 1], [1, 0], [1, 0], [0, 1], [0, 1]])
_CONST_H = np.ones((5, 2))


@pytest.mark.parametrize("classes", CLASSES)
def test_all_features_equal_paper_global_mean_nc1(classes):
    with pytest.warns(RuntimeWarning, match="between-class scatter is zero"):
        assert math.isnan(nc1(_CONST_H, _CONST_Y, classes=classes, global_mean="paper"))


@pytest.mark.parametrize("metric", ["nc2", "nc3", "nc_m"])
def test_all_features_equal_paper_global_mean_centred(metric):
    W = np.eye(2)
    with pytest.warns(RuntimeWarning):
        if metric == "nc2":
            v = nc2(_CONST_H, _CONST_Y, W=W, global_mean="paper").means
        elif metric == "nc3":
            v = nc3(_CONST_H, _CONST_Y, W=W, global_mean="paper")
        else:
            v = tagwise_average(_CONST_H, _CONST_Y, centered=True, global_mean="paper").nc_m[2]
    assert math.isnan(v)


def test_all_features_equal_uncentred_nc_m():
    with pytest.warns(RuntimeWarning, match="NC_m"):
        v = tagwise_average(_CONST_H, _CONST_Y).nc_m[2]
    assert math.isnan(v)


@settings(PROFILE, max_examples=15)
@given(p=problems(), value=st.integers(-40, 40))
def test_all_features_equal_nc4_ties_go_to_first_set(p, value):
    # An exactly representable constant: every label-set mean ties, and the documented
    # tie-break is the first set in canonical order.
    H = np.full_like(p.H, value / 4.0)
    stats = CollapseStatistics().partial_fit(H, p.Y)
    first = stats.label_sets_[0]
    expected = float(np.all(p.Y == first, axis=1).mean())
    assert nc4(H, p.Y, p.Y) == expected


@settings(PROFILE, max_examples=25)
@given(p=problems(min_K=3, drop_singleton=True), seed=seeds)
def test_label_never_seen_alone(p, seed):
    missing = next(k for k in range(p.K) if (k,) not in p.sets)
    pattern = rf"\[{missing}\] never observed alone"
    with pytest.warns(RuntimeWarning, match=pattern):
        assert math.isnan(nc1(p.H, p.Y))
    with pytest.warns(RuntimeWarning, match=pattern):
        r = nc2(p.H, p.Y, W=p.W)
    assert math.isnan(r.means) and np.isfinite(r.classifier)
    with pytest.warns(RuntimeWarning, match=pattern):
        assert math.isnan(nc3(p.H, p.Y, W=p.W))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = nc1(p.H, p.Y, classes="label_sets")
    assert math.isnan(v) or v >= 0

    # NC_m skips exactly the sets containing the missing label and counts them.
    has_missing = p.Y[:, missing] == 1
    expected = {}
    for S in p.sets:
        if len(S) >= 2:
            expected.setdefault(len(S), 0)
            expected[len(S)] += int(missing in S)
    with pytest.warns(RuntimeWarning, match="skipped"):
        tw = tagwise_average(p.H, p.Y)
    assert tw.n_skipped == expected
    assert all(missing not in r.labels for r in tw.residuals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rep = collapse_report(p.H, p.Y, W=p.W)
        # ... and equals NC_m on the data without the skipped sets
        reduced = tagwise_average(p.H[~has_missing], p.Y[~has_missing])
    assert rep.n_skipped == expected
    assert math.isnan(rep.nc1) and math.isnan(rep.nc2_means) and math.isnan(rep.nc3)
    assert any("never observed alone" in note for note in rep.notes)
    for m in reduced.nc_m:
        assert_allclose(tw.nc_m[m], reduced.nc_m[m], rtol=1e-10, equal_nan=True)
        assert_allclose(tw.c_m[m], reduced.c_m[m], rtol=1e-10, equal_nan=True)
    for m in set(tw.nc_m) - set(reduced.nc_m):  # every set of size m skipped
        assert math.isnan(tw.nc_m[m])


# ------------------------------------------------------- further documented properties
@settings(PROFILE, max_examples=20)
@given(p=problems(), n_empty=st.integers(1, 4), seed=seeds)
def test_empty_label_rows_are_ignored_by_metrics(p, n_empty, seed):
    # Documented: rows without any label are counted but take part in no scatter and in
    # no singleton-based metric (the 'paper' global mean divides by all samples, so it is
    # excluded, as is NC4, whose prototypes include the empty set).
    rng = np.random.default_rng(seed)
    H = np.vstack([p.H, 4.0 * rng.normal(size=(n_empty, p.d))])
    Y = np.vstack([p.Y, np.zeros((n_empty, p.K), dtype=p.Y.dtype)])
    order = rng.permutation(len(H))
    H, Y = H[order], Y[order]
    base, _ = _metrics(p.H, p.Y, p.W, p.b, p.Y)
    more, _ = _metrics(H, Y, p.W, p.b, Y)
    keys = [k for k in base if "paper" not in k and k not in ("nc4", "soft_iou")]
    _assert_same(base, more, keys=keys, rtol=1e-8, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rep = collapse_report(H, Y)
    assert rep.n_samples == p.n + n_empty
    assert any("no positive label" in note for note in rep.notes)


@settings(PROFILE, max_examples=30)
@given(p=problems(), seed=seeds)
def test_ranges(p, seed):
    P = _predictions(p, np.random.default_rng(seed))
    vals, _ = _metrics(p.H, p.Y, p.W, p.b, P)
    for k, v in vals.items():
        if math.isnan(v):
            continue
        if k.startswith(("nc1", "nc_m")):
            assert v >= 0, k
        elif k.startswith("nc2"):  # PSD Gram vs PSD target, both unit norm
            assert -1e-12 <= v <= math.sqrt(2) + 1e-12, k
        elif k.startswith("nc3"):
            assert -1e-12 <= v <= 2 + 1e-12, k
        elif k in ("nc4", "soft_iou"):
            assert 0 <= v <= 1, k
    # NC1 definitions: with d >= C - 1, Sigma_B has rank C - 1 (generic data), and the
    # pseudo-inverse uses the same C - 1 directions as the 'svd' inverse.
    for c in CLASSES:
        n_classes = p.K if c == "singletons" else len(p.sets)
        if p.d >= n_classes - 1:
            for g in ("weighted", "class_means"):
                assert_allclose(vals[f"nc1[{c},svd,{g}]"], vals[f"nc1[{c},pinv,{g}]"], rtol=1e-9)


@settings(PROFILE, max_examples=20)
@given(
    K=st.integers(2, 6),
    extra_d=st.integers(0, 6),
    scale=st.sampled_from([0.01, 1.0, 50.0]),
    c2=st.floats(0.2, 1.5),
    seed=seeds,
)
def test_exact_collapse_gives_zeros(K, extra_d, scale, c2, seed):
    # Documented "0 at collapse" for every NC metric: simplex-ETF singleton means in a
    # random orientation, pair means on the tag-wise average, no within-class noise.
    rng = np.random.default_rng(seed)
    d = K + extra_d
    Q = _orthogonal(d, rng)[:K]  # K orthonormal rows
    U = (np.eye(K) - 1.0 / K) * math.sqrt(K / (K - 1))
    M = scale * U @ Q  # unit-norm (times scale) simplex ETF rows
    sets = [(k,) for k in range(K)] + list(itertools.combinations(range(K), 2))
    H, Y = [], []
    for S in sets:
        mu = M[list(S)].mean(axis=0) * (1.0 if len(S) == 1 else c2)
        H += [mu] * 2
        Y += [_indicator(S, K)] * 2
    H, Y = np.array(H), np.array(Y)
    rep = collapse_report(H, Y, W=3.0 * U @ Q, predictions=Y)
    assert_allclose([rep.nc1, rep.nc2_means, rep.nc2_classifier, rep.nc3], 0.0, atol=1e-6)
    assert_allclose(rep.nc2_means, 0.0, atol=1e-6)
    if K > 2:  # with K = 2, mu_0 + mu_1 = 0 and the pair angle is undefined
        assert_allclose(rep.nc_m[2], 0.0, atol=1e-6)
        assert_allclose(rep.c_m[2], c2, rtol=1e-9)
    assert rep.nc4 == 1.0


@settings(PROFILE, max_examples=30)
@given(
    K=st.integers(2, 6),
    n=st.integers(1, 12),
    seed=seeds,
    scale=st.sampled_from([0.1, 3.0, 800.0]),
)
def test_soft_iou_properties(K, n, seed, scale):
    rng = np.random.default_rng(seed)
    Z = scale * rng.normal(size=(n, K))
    Y = (rng.random((n, K)) < 0.4).astype(int)
    Y[0, int(rng.integers(K))] = 1  # at least one non-empty row
    v = soft_iou(Z, Y)
    assert 0.0 <= v <= 1.0 + 1e-12 and np.isfinite(v)
    # row-wise logit shifts, label permutations and sample order do not matter
    assert_allclose(soft_iou(Z + 100.0 * rng.normal(size=(n, 1)), Y), v, rtol=1e-9, atol=1e-12)
    perm = rng.permutation(K)
    assert_allclose(soft_iou(Z[:, perm], Y[:, perm]), v, rtol=1e-12, atol=1e-15)
    order = rng.permutation(n)
    assert_allclose(soft_iou(Z[order], Y[order]), v, rtol=1e-12, atol=1e-15)
    # probabilities in, same answer
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    assert_allclose(soft_iou(E / E.sum(1, keepdims=True), Y, from_logits=False), v, rtol=1e-12)
    # the full label set gets all the mass; empty rows are excluded
    assert_allclose(soft_iou(Z, np.ones_like(Y)), 1.0, rtol=1e-12)
    Y0 = np.vstack([Y, np.zeros((2, K), dtype=int)])
    Z0 = np.vstack([Z, rng.normal(size=(2, K))])
    assert_allclose(soft_iou(Z0, Y0), v, rtol=1e-12)
