"""Tiny networks run fastest on one thread (thread hand-offs dominate their few-ms ops,
badly so on a shared CPU); restore the session's setting afterwards."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
