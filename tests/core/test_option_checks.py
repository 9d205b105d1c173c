"""The option checks the CLI and the app share (core.option_checks)."""

import argparse

import pytest

from core.cli import _stems
from core.errors import ConfigError
from core.jobs import SeparationOptions, run_batch
from core.option_checks import (
    check_high_band,
    check_output_format,
    check_preset,
    check_seed,
    check_stems,
    check_subtype,
    validate_options,
)
from desktop.options import AppOptions
from tests.fakes import FilterBankModel


def test_bad_options_are_rejected():
    model = FilterBankModel()
    for options in (SeparationOptions(format="flac", subtype="FLOAT"), SeparationOptions(preset="ultra"),
                    SeparationOptions(template="{track}.{ext}"), SeparationOptions(stems=("vocals",)),
                    SeparationOptions(stems=()), SeparationOptions(high_band="keep"),
                    SeparationOptions(format="mp3")):
        with pytest.raises(ConfigError):
            validate_options(options, model)
    validate_options(SeparationOptions(format="flac"), model)  # the input's depth fits any format


def test_a_batch_with_bad_options_touches_no_file(make_audio, tmp_path):
    path = make_audio(seconds=0.1)
    with pytest.raises(ConfigError, match="FLAC"):
        run_batch([path], FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", format="flac",
                                                              subtype="FLOAT"))
    assert not (tmp_path / "out").exists()


def test_each_check_names_the_choice_and_the_way_out():
    with pytest.raises(ConfigError, match="unknown stem.*vocals; choose from bass,drums"):
        check_stems(["vocals"], ("bass", "drums"))
    with pytest.raises(ConfigError, match="at least one instrument"):
        check_stems([])
    with pytest.raises(ConfigError, match="unknown preset 'ultra'; choose from draft, fast"):
        check_preset("ultra", ("draft", "fast"))
    with pytest.raises(ConfigError, match="high-band mode 'keep'"):
        check_high_band("keep")
    with pytest.raises(ConfigError, match="FLAC cannot hold FLOAT"):
        check_output_format("flac", "FLOAT")
    assert check_stems(("bass",)) == ("bass",)
    assert check_subtype("pcm_16", "flac") == "PCM_16" and check_subtype("FLOAT", "ogg") == "VORBIS"


def test_the_cli_and_the_app_refuse_the_same_choices_for_the_same_reason():
    with pytest.raises(ConfigError) as engine:
        check_stems([])
    assert AppOptions(stems=()).problems() == [f"{str(engine.value).capitalize()}."]
    with pytest.raises(argparse.ArgumentTypeError, match=str(engine.value)):
        _stems(",")
    with pytest.raises(ConfigError) as engine:
        check_output_format("flac", "FLOAT")
    assert AppOptions(format="flac", bit_depth="FLOAT").problems() == [f"{engine.value}."]


def test_issue_32_choices_refused_with_their_reason():
    """Cases 2, 5 and 7: a stem named twice, a seed outside torch's 64 bits, a bit depth for OGG."""
    with pytest.raises(ConfigError, match="drums named more than once"):
        check_stems(("drums", "bass", "drums"))
    for bad in (-1, 2**64, 1.5, True):
        with pytest.raises(ConfigError, match="out of range"):
            check_seed(bad)
    assert check_seed(0) == 0 and check_seed(2**64 - 1) == 2**64 - 1
    with pytest.raises(ConfigError, match="OGG \\(Vorbis\\) is lossy and has no bit depth"):
        check_output_format("ogg", "PCM_24")
    check_output_format("ogg", None)
    model = FilterBankModel()
    for options in (SeparationOptions(stems=("bass", "bass")), SeparationOptions(seed=2**64),
                    SeparationOptions(format="ogg", subtype="FLOAT")):
        with pytest.raises(ConfigError):
            validate_options(options, model)
