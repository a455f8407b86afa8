import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sklearn_mlabnc._batching import BatchIterator, TensorBatches


@pytest.mark.parametrize("n, batch_size", [(10, 3), (10, 5), (11, 5), (1, 4)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_is_seen_once_per_epoch(n, batch_size, shuffle):
    X = np.arange(n, dtype=np.float32)[:, None].repeat(2, axis=1)
    Y = np.arange(n, dtype=np.float32)[:, None]
    iterator = BatchIterator(TensorBatches(X, Y, "cpu"), batch_size, shuffle=shuffle, seed=0)
    batches = list(iterator)
    assert len(batches) == len(iterator)
    seen = torch.cat([Xb[:, 0] for Xb, _ in batches]).numpy()
    np.testing.assert_array_equal(np.sort(seen), np.arange(n))
    for Xb, Yb in batches:
        torch.testing.assert_close(Xb[:, 0], Yb[:, 0])  # rows stay aligned
        assert len(Xb) >= min(2, n)  # no single-sample batch (batch norm needs 2)


def test_shuffling_is_seeded_and_changes_between_epochs():
    X = np.arange(50, dtype=np.float32)[:, None]
    data = TensorBatches(X, None, "cpu")

    def order(it):
        return torch.cat([b for b, _ in it]).ravel().tolist()

    a = BatchIterator(data, 8, shuffle=True, seed=1)
    b = BatchIterator(data, 8, shuffle=True, seed=1)
    first = order(a)
    assert first == order(b)
    assert first != order(a)  # the next epoch draws a new permutation
    assert first != list(range(50))


def test_sparse_inputs_are_densified_per_batch():
    X = sp.random(40, 7, density=0.3, format="csr", random_state=0, dtype=np.float64)
    data = TensorBatches(X, None, "cpu")
    assert data.sparse and not data.resident and sp.issparse(data.X)
    got = torch.cat([b for b, _ in BatchIterator(data, 16)]).numpy()
    np.testing.assert_allclose(got, X.toarray(), rtol=1e-6)


def test_read_only_arrays_are_accepted_without_warnings():
    X = np.ones((4, 3))
    X.setflags(write=False)
    with np.testing.assert_no_warnings():
        data = TensorBatches(X, None, "cpu")
    assert data.X.dtype == torch.float32 and data.resident
