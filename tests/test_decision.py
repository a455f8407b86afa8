import itertools
import json

import numpy as np
import pytest
import torch

from sklearn_mlabnc._decision import (
    TagwisePrototypes,
    apply_rule,
    cardinality_rule,
    default_rule,
    fit_rule,
    split_background,
    threshold_rule,
    tune_threshold,
)


def _micro_f1(pred, truth):
    tp = (pred & truth).sum()
    return 2 * tp / (pred.sum() + truth.sum())


def test_threshold_rule_is_a_fraction_of_the_top_score():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]))
    empty = torch.zeros(2, dtype=torch.bool)
    out = threshold_rule(logits, empty, 0.55).numpy()
    np.testing.assert_array_equal(out, [[1, 1, 0], [0, 0, 1]])
    assert threshold_rule(logits, torch.tensor([True, False]), 0.55)[0].sum() == 0


@pytest.mark.parametrize("seed", range(4))
def test_tuned_threshold_matches_brute_force_search(seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(60, 5, generator=gen, dtype=torch.float64)
    truth = (torch.rand(60, 5, generator=gen) < 0.3) | (logits > 0.8)
    empty = torch.zeros(60, dtype=torch.bool)
    best = tune_threshold(logits, empty, truth)
    tuned_f1 = _micro_f1(threshold_rule(logits, empty, best), truth)
    grid = np.exp(-np.linspace(0, 6, 3001))
    brute = max(_micro_f1(threshold_rule(logits, empty, t), truth) for t in grid)
    assert float(tuned_f1) >= float(brute) - 1e-12
    assert 0 < best <= 1


def test_cardinality_rule_picks_the_largest_drop_among_seen_sizes():
    logits = torch.tensor(
        [
            [5.0, 4.9, 0.0, -0.1],  # two tied on top
            [5.0, 1.0, 0.9, 0.8],  # one clear winner
            [3.0, 2.0, 1.9, -4.0],  # three on top, but only sizes 1 and 2 were seen
        ]
    )
    empty = torch.zeros(3, dtype=torch.bool)
    out = cardinality_rule(logits, empty, np.array([1, 2])).int().numpy()
    np.testing.assert_array_equal(out, [[1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    out3 = cardinality_rule(logits, empty, np.array([1, 2, 3])).int().numpy()
    np.testing.assert_array_equal(out3[2], [1, 1, 1, 0])


def test_background_column_marks_empty_predictions():
    logits = torch.tensor([[1.0, 0.0, 3.0], [2.0, 0.0, 1.0]])
    labels, empty = split_background(logits, True)
    assert labels.shape == (2, 2)
    np.testing.assert_array_equal(empty.numpy(), [True, False])
    labels, empty = split_background(logits, False)
    assert labels.shape == (2, 3) and not empty.any()


def _tagwise_features(K=4, d=6, scales=(1.0, 0.6, 0.4), offset=2.0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(K, d))
    origin = offset * np.ones(d)
    rows, features = [], []
    for m, c in zip((1, 2, 3), scales, strict=True):
        for labels in itertools.combinations(range(K), m):
            for _ in range(3):
                y = np.zeros(K)
                y[list(labels)] = 1
                rows.append(y)
                features.append(origin + c * atoms[list(labels)].mean(axis=0))
    H = np.array(features) + noise * rng.normal(size=(len(features), d))
    return H, np.array(rows), atoms, origin


def test_tagwise_prototypes_recover_an_exact_geometry():
    H, Y, atoms, origin = _tagwise_features()
    protos = TagwisePrototypes().fit(H, Y)
    assert protos.scales_[2] / protos.scales_[1] == pytest.approx(0.6, rel=1e-6)
    assert protos.scales_[3] / protos.scales_[1] == pytest.approx(0.4, rel=1e-6)
    np.testing.assert_allclose(protos.origin_, origin, atol=1e-6)
    np.testing.assert_allclose(protos.scales_[1] * protos.atoms_, atoms, atol=1e-6)


def test_prototype_rule_predicts_sets_including_unseen_ones():
    H, Y, _, _ = _tagwise_features(noise=0.01)
    unseen = (Y[:, 0] == 1) & (Y[:, 3] == 1) & (Y.sum(axis=1) == 2)
    protos = TagwisePrototypes().fit(H[~unseen], Y[~unseen])
    # Logits that rank the true labels first, as a trained head would.
    logits = torch.tensor(Y + 0.1 * np.random.default_rng(1).normal(size=Y.shape))
    pred = protos.predict(torch.tensor(H), logits, np.array([1, 2, 3])).numpy()
    np.testing.assert_array_equal(pred, Y.astype(bool))
    assert pred[unseen].all(axis=0)[[0, 3]].all()


def _nearest_prototype_loop(protos, H, logits, multiplicities):
    """Direct distances to each candidate prototype, one sample at a time."""
    out = np.zeros(logits.shape, dtype=bool)
    for i in range(len(H)):
        order = np.argsort(-logits[i], kind="stable")
        candidates = []
        for m in multiplicities:
            if m in protos.scales_:
                labels = order[:m]
                prototype = protos.origin_ + protos.scales_[m] * protos.atoms_[labels].mean(0)
                candidates.append((np.sum((H[i] - prototype) ** 2), labels))
        if protos.empty_mean_ is not None:
            candidates.append((np.sum((H[i] - protos.empty_mean_) ** 2), order[:0]))
        out[i, min(candidates, key=lambda c: c[0])[1]] = True
    return out


@pytest.mark.parametrize(
    "K, max_size, with_empty",
    [(7, 7, False), (7, 7, True), (300, 2, False)],  # 300 labels: the gathered-atoms path
)
def test_prototype_rule_matches_direct_distances(K, max_size, with_empty):
    rng = np.random.default_rng(0)
    d, n = 5, 300
    Y = (rng.random((n, K)) < 1.75 / K).astype(int)
    Y[Y.sum(axis=1) > max_size] = 0
    if not with_empty:
        Y[Y.sum(axis=1) == 0, rng.integers(K)] = 1
    H = Y @ rng.normal(size=(K, d)) + 0.8 * rng.normal(size=(n, d)) + 3.0
    protos = TagwisePrototypes().fit(H, Y)
    assert (protos.empty_mean_ is not None) == with_empty
    logits = rng.normal(size=(n, K)) + 2 * Y
    multiplicities = np.unique(Y.sum(axis=1))
    pred = protos.predict(torch.tensor(H), torch.tensor(logits), multiplicities).numpy()
    np.testing.assert_array_equal(pred, _nearest_prototype_loop(protos, H, logits, multiplicities))
    assert len(np.unique(pred.sum(axis=1))) >= min(3, max_size)  # several sizes are chosen


@pytest.mark.parametrize("with_empty", [False, True])
def test_tagwise_prototypes_dict_round_trip_through_json_predicts_identically(with_empty):
    H, Y, _, _ = _tagwise_features(noise=0.05)
    if with_empty:
        Y = Y.copy()
        Y[:5] = 0
    protos = TagwisePrototypes().fit(H, Y)
    state = protos.to_dict()
    scales = json.loads(json.dumps(state["scales"]))  # the saved form: str keys
    restored = TagwisePrototypes.from_dict({**state, "scales": scales})
    assert restored.scales_ == protos.scales_
    assert (restored.empty_mean_ is None) == (not with_empty)
    logits = torch.tensor(Y + 0.1 * np.random.default_rng(2).normal(size=Y.shape))
    sizes = np.arange(4)
    np.testing.assert_array_equal(
        restored.predict(torch.tensor(H), logits, sizes).numpy(),
        protos.predict(torch.tensor(H), logits, sizes).numpy(),
    )


@pytest.mark.parametrize("rule", ["threshold", "cardinality", "prototype"])
def test_fit_rule_and_apply_rule_compose(rule):
    H, Y, _, _ = _tagwise_features(noise=0.01)
    logits = torch.tensor(Y * 3.0 + 0.1 * np.random.default_rng(3).normal(size=Y.shape))
    calls = []

    def outputs():
        calls.append(1)
        return logits, torch.tensor(H)

    threshold, protos = fit_rule(
        rule, threshold=None, independent=False, outputs=outputs, Y=Y, has_background=False
    )
    assert len(calls) == (0 if rule == "cardinality" else 1)  # no pass unless needed
    pred = apply_rule(
        rule,
        logits,
        torch.tensor(H),
        has_background=False,
        multiplicities=np.unique(Y.sum(axis=1)),
        threshold=threshold,
        prototypes=protos,
        independent=False,
    )
    np.testing.assert_array_equal(pred.numpy(), Y.astype(bool))
    assert default_rule("bce") == "threshold" and default_rule("pal") == "cardinality"


@pytest.mark.parametrize("independent", [False, True])
def test_per_label_rule_cuts_each_label_at_its_own_threshold(independent):
    logits = torch.tensor([[2.0, 1.0, -1.0], [0.0, 0.5, 0.4]], dtype=torch.float64)
    fractions = np.array([0.9, 0.3, 0.5])
    background = torch.tensor([[-9.0], [9.0]], dtype=torch.float64)  # wins on row 1
    out = apply_rule(
        "per_label",
        logits if independent else torch.cat([logits, background], dim=1),
        logits,
        has_background=not independent,
        multiplicities=np.array([1]),
        threshold=None,
        prototypes=None,
        independent=independent,
        label_thresholds=fractions,
    ).numpy()
    if independent:  # sigmoid(z_k) >= t_k
        expected = torch.sigmoid(logits).numpy() >= fractions
        assert out[0].tolist() == [False, True, False]
    else:  # p_k >= t_k max_j p_j, i.e. z_k - max z >= log t_k; nothing where background wins
        gaps = (logits - logits.max(dim=1, keepdim=True).values).numpy()
        expected = (gaps >= np.log(fractions)) & np.array([[True], [False]])
        assert out[0].tolist() == [True, True, False]
    np.testing.assert_array_equal(out, expected)
