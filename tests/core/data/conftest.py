"""Fixtures for the data tests: a tiny generated dataset."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """Three generated songs of 3 s (one per split), made in this process."""
    from core.data.synth.fluidsynth import SynthUnavailableError
    from core.data.synth.generate import generate_dataset

    out = tmp_path_factory.mktemp("synth") / "set"
    try:
        generate_dataset(out, songs=3, seconds=3.0, seed=7, jobs=1)
    except SynthUnavailableError as error:  # pragma: no cover - CI installs FluidSynth
        pytest.skip(f"FluidSynth unavailable: {error}")
    return out
