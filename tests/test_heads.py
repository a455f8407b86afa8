import numpy as np
import pytest
import torch

from sklearn_mlabnc import MLabNCClassifier, SimplexETFHead, simplex_etf


def _etf_gram(K):
    return K / (K - 1) * (np.eye(K) - np.ones((K, K)) / K)


@pytest.mark.parametrize("K, d", [(2, 2), (3, 3), (5, 8), (10, 64)])
@pytest.mark.parametrize("embedding", ["identity", "random"])
def test_simplex_etf_geometry(K, d, embedding):
    U = simplex_etf(K, d, embedding=embedding, random_state=3, dtype=torch.float64).numpy()
    assert U.shape == (K, d)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(U @ U.T, _etf_gram(K), atol=1e-12)


def test_identity_embedding_is_zero_padded_and_random_is_seeded():
    U = simplex_etf(3, 5).numpy()
    assert np.all(U[:, 3:] == 0)
    a = simplex_etf(3, 5, embedding="random", random_state=1)
    b = simplex_etf(3, 5, embedding="random", random_state=1)
    c = simplex_etf(3, 5, embedding="random", random_state=2)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize(
    "args, match",
    [((1,), "at least 2 classes"), ((4, 3), "n_features >= 4")],
)
def test_simplex_etf_errors(args, match):
    with pytest.raises(ValueError, match=match):
        simplex_etf(*args)
    with pytest.raises(ValueError, match="embedding"):
        simplex_etf(3, embedding="qr")


def test_etf_head_weight_is_a_buffer_not_a_parameter():
    head = SimplexETFHead(6, 4)
    assert [name for name, _ in head.named_parameters()] == ["bias"]
    assert "weight" in head.state_dict()
    x = torch.randn(3, 6)
    torch.testing.assert_close(head(x), x @ head.weight.T + head.bias)


@pytest.mark.parametrize("feature_dim", ["n_classes", 12])
def test_etf_head_receives_no_updates_during_training(feature_dim):
    rng = np.random.default_rng(0)
    Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]] * 12)
    X = Y @ rng.normal(size=(4, 6)) + 0.1 * rng.normal(size=(60, 6))
    clf = MLabNCClassifier(
        hidden_layer_sizes=(16,),
        head="etf",
        feature_dim=feature_dim,
        optimizer="sgd",
        lr=0.1,
        weight_decay=5e-4,
        max_epochs=5,
        random_state=0,
    )
    clf.fit(X, Y)
    K = 4
    d = K if feature_dim == "n_classes" else feature_dim
    expected = simplex_etf(K, d).numpy()
    np.testing.assert_array_equal(clf.coef_, expected.astype(np.float64))
    np.testing.assert_allclose(clf.coef_ @ clf.coef_.T, _etf_gram(K), atol=1e-6)
    optimized = {id(p) for group in clf.net_.optimizer_.param_groups for p in group["params"]}
    assert id(clf.net_.module_.head.weight) not in optimized
    assert clf.net_.module_.head.bias.abs().sum() > 0  # the bias did train
