import math

import pytest
import torch

from sklearn_mlabnc import OneVsAllLoss, PickAllLabelLoss


def _pal_reference(logits, target, normalize=False):
    """Loop-based -sum_{k in S} log softmax(z)_k (optionally / |S|), averaged."""
    total = 0.0
    for z, row in zip(logits.tolist(), target.tolist(), strict=True):
        log_norm = math.log(sum(math.exp(v) for v in z))
        labels = [k for k, on in enumerate(row) if on]
        loss = sum(log_norm - z[k] for k in labels)
        total += loss / len(labels) if normalize else loss
    return total / len(logits)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("n_labels", [2, 5, 17])
def test_pal_equals_explicit_sum_of_log_softmax(normalize, n_labels):
    gen = torch.Generator().manual_seed(n_labels)
    logits = 3 * torch.randn(40, n_labels, generator=gen, dtype=torch.float64)
    target = (torch.rand(40, n_labels, generator=gen) < 0.4).double()
    target[torch.arange(40), torch.randint(n_labels, (40,), generator=gen)] = 1.0
    got = PickAllLabelLoss(normalize=normalize)(logits, target)
    assert got.item() == pytest.approx(_pal_reference(logits, target, normalize), rel=1e-12)


def test_pal_on_single_labels_is_softmax_cross_entropy():
    logits = torch.randn(30, 6, generator=torch.Generator().manual_seed(0))
    classes = torch.arange(30) % 6
    target = torch.nn.functional.one_hot(classes, 6).float()
    expected = torch.nn.functional.cross_entropy(logits, classes)
    torch.testing.assert_close(PickAllLabelLoss()(logits, target), expected)
    torch.testing.assert_close(PickAllLabelLoss(normalize=True)(logits, target), expected)


def test_pal_is_not_divided_by_multiplicity():
    # Uniform logits: each positive label costs log K.
    target = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    loss = PickAllLabelLoss()(torch.zeros(1, 4), target)
    assert loss.item() == pytest.approx(3 * math.log(4))
    assert PickAllLabelLoss(normalize=True)(torch.zeros(1, 4), target).item() == pytest.approx(
        math.log(4)
    )


def test_one_vs_all_matches_per_label_sigmoid_cross_entropy():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    target = (torch.rand(20, 4, generator=gen) < 0.5).double()
    p = torch.sigmoid(logits)
    reference = -(target * p.log() + (1 - target) * (1 - p).log()).sum(1).mean()
    torch.testing.assert_close(OneVsAllLoss()(logits, target), reference)


@pytest.mark.parametrize("loss", [PickAllLabelLoss, OneVsAllLoss])
def test_reductions(loss):
    logits = torch.randn(5, 3)
    target = torch.tensor([[1.0, 0.0, 1.0]] * 5)
    per_sample = loss(reduction="none")(logits, target)
    assert per_sample.shape == (5,)
    torch.testing.assert_close(loss(reduction="sum")(logits, target), per_sample.sum())
    with pytest.raises(ValueError, match="reduction"):
        loss(reduction="max")
