"""``stemforge synth --sample-rate``: sets rendered at 44.1 kHz for the full-band evaluation."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import yaml

from core.data.synth.fonts import default_fonts
from core.data.synth.generate import generate_dataset


def test_a_44k_set_has_content_above_the_model_band_and_records_its_rate(tmp_path):
    fluid = [str(default_fonts()[0])]
    generate_dataset(tmp_path, songs=1, seconds=2.0, seed=3, jobs=1, fonts=fluid, sample_rate=44100)
    track = next((tmp_path / "train").glob("Track*"))
    mix, rate = sf.read(track / "mix.flac")
    assert rate == 44100 and mix.shape[0] == 2 * 44100
    metadata = yaml.safe_load((track / "metadata.yaml").read_text())
    assert metadata["stemforge"]["generation"]["sample_rate"] == 44100
    power = np.abs(np.fft.rfft(mix)) ** 2
    assert power[np.fft.rfftfreq(mix.shape[0], 1 / rate) > 11025].sum() > 1e-6 * power.sum()
