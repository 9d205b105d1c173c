"""Every test in this folder runs on one torch thread (``single_thread``, tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def one_thread(single_thread):
    yield
