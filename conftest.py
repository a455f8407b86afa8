import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _single_torch_thread():
    # The test networks are tiny: intra-op threads only add synchronisation overhead, and
    # oversubscribe the CPU when other processes share it.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
