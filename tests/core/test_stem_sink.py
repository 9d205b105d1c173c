"""The stem sink: nothing non-finite is written; the null of lossy files is measured decoded."""

import math

import numpy as np
import pytest
import soundfile as sf

from core.audio.writer import StemWriter
from core.errors import StemforgeError
from core.stem_sink import StemSink, decoded_null_db, format_null


def writers(tmp_path, names, fmt="wav", subtype="PCM_16"):
    return {name: StemWriter(tmp_path / f"{name}.{fmt}", 8000, 1, fmt, subtype) for name in names}


def test_non_finite_stems_are_refused_not_written_as_silence(tmp_path):
    """Issue 32 case 3: NaN stems were written (silent as PCM_16) and the null said "nan"."""
    stems = writers(tmp_path, ("bass", "drums"))
    residual = StemWriter(tmp_path / "other.wav", 8000, 1, "wav", "PCM_16")
    sink = StemSink(stems, residual, source="song.wav")
    mix = np.full((100, 1), 0.5)
    block = np.full((100, 1, 2), 0.25)
    sink(mix, block)
    block[50, 0, 1] = np.nan
    with pytest.raises(StemforgeError, match="song.wav: the separation produced NaN"):
        sink(mix, block)
    for writer in (*stems.values(), residual):
        writer.discard()


def test_the_decoded_null_counts_what_the_files_lack_or_add(tmp_path):
    mix = np.random.default_rng(0).uniform(-0.5, 0.5, (1000, 2))
    sf.write(str(tmp_path / "half.wav"), mix / 2, 8000, subtype="FLOAT")
    sf.write(str(tmp_path / "short.wav"), mix[:900] / 2, 8000, subtype="FLOAT")
    exact = decoded_null_db(np.array_split(mix, 7), [tmp_path / "half.wav", tmp_path / "half.wav"])
    assert exact < -140
    short = decoded_null_db(np.array_split(mix, 7), [tmp_path / "half.wav", tmp_path / "short.wav"])
    expected = 10 * math.log10(np.sum((mix[900:] / 2) ** 2) / np.sum(mix**2))
    assert short == pytest.approx(expected, abs=1e-6)
    assert format_null(-math.inf) == "exact" and format_null(short, lossy=True).endswith("(decoded; the format is lossy)")
