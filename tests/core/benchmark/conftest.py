"""One torch thread for these tests: tiny models gain nothing from more, and a busy CPU
makes multi-threaded tiny kernels many times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
