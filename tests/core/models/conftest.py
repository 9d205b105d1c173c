"""Tests of core/models: one torch thread, and model folders of their own."""

import pytest


@pytest.fixture(autouse=True)
def one_thread(single_thread):
    yield


@pytest.fixture(autouse=True)
def own_model_folders(monkeypatch, tmp_path):
    """The user's model folder is the test's (never the machine's)."""
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "user-models"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "user-models"
