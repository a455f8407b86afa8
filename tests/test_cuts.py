"""The cut tuners against the direct search over the same candidate cuts."""

import numpy as np
import pytest

from sklearn_mlabnc._cuts import (
    _LABEL_CUTS,
    _MEAN_TIES,
    METRICS,
    _candidates,
    _sorted_scores,
    apply_cuts,
    set_score,
    tune_global_cut,
    tune_label_cuts,
)


def _first_best(scored, metric):
    """The first best value; per-sample means closer than ``_MEAN_TIES`` are ties."""
    scored = np.asarray(scored)
    tolerance = _MEAN_TIES if metric in ("f1_samples", "jaccard_samples") else 0.0
    return int(np.flatnonzero(scored >= scored.max() - tolerance)[0])


def _direct_global_cut(scores, empty, Y, metric):
    """Every cut between distinct scores (200 quantile cuts for the other metrics), each
    scored with ``set_score`` on the whole matrix; the first best in the tuners' order."""
    if metric in ("f1_micro", "hamming"):
        values = np.unique(scores[~empty])[::-1]  # descending: the tuner prefers high cuts
        cuts = list(0.5 * (values[1:] + values[:-1])) + [values[-1] - 1.0]
        scored = [set_score(Y, apply_cuts(scores, empty, c), metric) for c in cuts]
        nothing = set_score(Y, np.zeros_like(Y), metric)
        if max(scored) < nothing:
            return values[0] + 1.0
        return cuts[int(np.argmax(scored))]
    cuts = _candidates(scores[~empty].ravel(), 200)
    scored = [set_score(Y, apply_cuts(scores, empty, c), metric) for c in cuts]
    return cuts[_first_best(scored, metric)]


def _direct_label_cuts(scores, empty, Y, metric, start, min_positives=3):
    """One pass of coordinate ascent, each option scored with ``set_score`` on the whole
    matrix."""
    cuts = np.full(Y.shape[1], float(start))
    for k in np.flatnonzero(Y.sum(0) >= min_positives):
        options = np.concatenate([[cuts[k]], _candidates(scores[~empty, k], _LABEL_CUTS)])
        scored = []
        for option in options:
            trial = cuts.copy()
            trial[k] = option
            scored.append(set_score(Y, apply_cuts(scores, empty, trial), metric))
        cuts[k] = options[_first_best(scored, metric)]
    return cuts


def _problem(seed, n=80, K=6, ties=False):
    rng = np.random.default_rng(seed)
    Y = rng.random((n, K)) < rng.uniform(0.05, 0.5, K)
    scores = Y * rng.uniform(0.3, 1.5, K) + rng.normal(size=(n, K)) - np.arange(K) * 0.3
    if ties:  # few distinct values: ties between samples and labels
        scores = np.round(scores, 1)
    empty = rng.random(n) < 0.1
    return scores, empty, Y


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("seed", range(6))
def test_global_cut_matches_the_direct_search(metric, seed):
    scores, empty, Y = _problem(seed, ties=seed % 2 == 1)
    tuned = tune_global_cut(scores, empty, Y, metric)
    direct = _direct_global_cut(scores, empty, Y, metric)
    assert tuned == pytest.approx(direct, abs=1e-12)
    value = set_score(Y, apply_cuts(scores, empty, tuned), metric)
    assert value == set_score(Y, apply_cuts(scores, empty, direct), metric)


@pytest.mark.parametrize("metric", ["f1_micro", "hamming"])
@pytest.mark.parametrize("decimals", [None, 1, 0])
def test_global_cut_sorts_only_what_can_win_and_stays_exact(metric, decimals):
    # Many labels, few positives: most scores are pruned before the sort (with many ties
    # across the pruning bound when rounded).
    rng = np.random.default_rng(3)
    Y = rng.random((120, 100)) < 0.02
    scores = 2.0 * Y + rng.normal(size=Y.shape)
    if decimals is not None:
        scores = np.round(scores, decimals)
    empty = rng.random(120) < 0.05
    kept, _, rest = _sorted_scores(scores, empty, Y, int(Y.sum()), metric)
    assert rest is not None and len(kept) < scores.size / 2
    tuned = tune_global_cut(scores, empty, Y, metric)
    assert tuned == pytest.approx(_direct_global_cut(scores, empty, Y, metric), abs=1e-12)


def test_hamming_prefers_nothing_when_every_cut_errs_more():
    scores = np.array([[0.0, 1.0], [2.0, 3.0]])
    Y = np.zeros((2, 2), dtype=bool)
    cut = tune_global_cut(scores, np.zeros(2, bool), Y, "hamming")
    assert cut > 3.0
    assert not apply_cuts(scores, np.zeros(2, bool), cut).any()


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("seed", range(6))
def test_label_cuts_match_the_direct_search(metric, seed):
    scores, empty, Y = _problem(seed, n=70, ties=seed % 2 == 1)
    start = tune_global_cut(scores, empty, Y, metric)
    tuned = tune_label_cuts(scores, empty, Y, metric, start=start)
    np.testing.assert_array_equal(tuned, _direct_label_cuts(scores, empty, Y, metric, start))


def test_label_cuts_with_more_distinct_scores_than_candidates():
    # Over 60 distinct scores a label: the candidates are quantiles of them.
    scores, empty, Y = _problem(11, n=400, K=4)
    start = tune_global_cut(scores, empty, Y, "f1_micro")
    tuned = tune_label_cuts(scores, empty, Y, "f1_micro", start=start)
    np.testing.assert_array_equal(tuned, _direct_label_cuts(scores, empty, Y, "f1_micro", start))


def test_every_sample_empty_keeps_the_start():
    scores, _, Y = _problem(0)
    empty = np.ones(len(Y), bool)
    assert tune_global_cut(scores, empty, Y) == 0.0
    np.testing.assert_array_equal(tune_label_cuts(scores, empty, Y, start=0.5)[:1], [0.5])
