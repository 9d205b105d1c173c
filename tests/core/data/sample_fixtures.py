"""Tiny recorded-instrument folders laid out like ``../shared/samples``: sine "notes"
and noise "hits" written as 16-bit FLAC with a ``regions.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44100


def _note(key: int, layer: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    frequency = 440.0 * 2 ** ((key - 69) / 12)
    return (0.1 * layer * np.sin(2 * np.pi * frequency * t) * np.exp(-3 * t)).astype(np.float32)


def _hit(key: int, layer: int) -> np.ndarray:
    noise = np.random.default_rng(key * 10 + layer).standard_normal(int(0.2 * RATE))
    return (0.05 * layer * noise * np.exp(-np.arange(noise.size) / 4410)).astype(np.float32)


def write_instrument(
    root: Path,
    instrument: str,
    identifier: str,
    keys: list[int],
    layers: int = 2,
    round_robins: int = 1,
    articulations: tuple[str, ...] = ("sustain",),
    licence: str = "CC0-1.0",
) -> Path:
    """``root/instrument/identifier/`` with one file per key, layer, rr and articulation."""
    folder = root / instrument / identifier
    folder.mkdir(parents=True)
    regions = []
    for articulation in articulations:
        for key in keys:
            for layer in range(1, layers + 1):
                for rr in range(1, round_robins + 1):
                    name = f"{articulation}_{key:03d}_v{layer}_rr{rr}.flac"
                    audio = _hit(key, layer) if instrument == "drums" else _note(key, layer)
                    sf.write(folder / name, audio * (1 + 0.1 * rr), RATE, subtype="PCM_16")
                    regions.append({"file": name, "key": key, "layer": layer, "rr": rr,
                                    "articulation": articulation})
    header = {"id": identifier, "instrument": instrument, "licence": licence,
              "description": f"test {instrument}", "source": "tests", "sample_rate": RATE,
              "regions": regions}
    (folder / "regions.json").write_text(json.dumps(header), encoding="utf-8")
    return folder


def write_library(root: Path) -> Path:
    """One training and one held-out instrument per pitched class (the held-out ids
    of :data:`core.data.synth.sources.HELDOUT`), and a recorded drum kit."""
    pitched = list(range(28, 100, 3))
    write_instrument(root, "bass", "growlybass", pitched)
    write_instrument(root, "bass", "swagbass", pitched)
    write_instrument(root, "guitar", "shinyguitar", pitched, articulations=("acoustic", "electric"))
    write_instrument(root, "guitar", "emilyguitar", pitched)
    write_instrument(root, "piano", "splendidgrand", pitched)
    write_instrument(root, "piano", "headroompiano", pitched, licence="CC-BY-4.0 (Test Author)")
    write_instrument(root, "drums", "muldjordkit", [35, 36, 38, 42, 46, 49, 51], layers=3,
                     round_robins=2, licence="CC-BY-4.0 (Kit Author)")
    return root
