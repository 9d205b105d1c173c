"""``stemforge train high-band`` end to end on a tiny 44.1 kHz set with a stand-in model:
a loadable weights file, the same weights for the same seed, no silent overwrite."""

import math

import numpy as np
import soundfile as sf
import torch
from safetensors.torch import load_file

import core.bundle
from core.audio.learned_high_band import load_network
from core.cli import main
from core.instruments import INSTRUMENTS
from tests.fakes import FilterBankModel

RATE = 44100


def write_train_set(root, seconds=12.0):
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(0)
    folder = root / "train" / "Track00001"
    folder.mkdir(parents=True)
    for index, name in enumerate(INSTRUMENTS):
        audio = 0.05 * rng.standard_normal(t.size) if name == "drums" else 0.2 * np.sin(2 * math.pi * 80 * (index + 1) * t)
        sf.write(str(folder / f"{name}.wav"), audio.astype(np.float32), RATE, subtype="FLOAT")
    return root


def test_train_high_band_writes_deterministic_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(core.bundle, "load_model", lambda spec, device: FilterBankModel(segment_samples=8192))
    data = write_train_set(tmp_path / "data")
    out = tmp_path / "mask.safetensors"
    command = ["train", "high-band", "--data", str(data), "--out", str(out), "--steps", "4", "--hidden", "4",
               "--seed", "3", "--cache", str(tmp_path / "cache")]
    assert main(command) == 0
    assert "high-band mask:" in capsys.readouterr().out
    first = load_file(str(out))
    assert load_network(out).parameter_count() > 0
    assert main(command) == 2  # exists: refused
    assert "--overwrite" in capsys.readouterr().err
    assert main([*command, "--overwrite"]) == 0  # from the cached stems this time
    again = load_file(str(out))
    assert first.keys() == again.keys()
    for name in first:
        torch.testing.assert_close(first[name], again[name], rtol=0, atol=0)
    assert not list(tmp_path.glob("*.partial"))
