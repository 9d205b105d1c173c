"""The generated dataset: Slakh layout, exact sums, alignment, splits, determinism."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from core.data.silence import is_silent
from core.data.synth.compose import compose_song
from core.data.synth.generate import generate_dataset, song_seed
from core.data.synth.layout import split_of, track_name
from core.data.synth.sources import KIT_FONT_FILES
from core.errors import OutputExistsError


def _tracks(root: Path) -> dict[str, Path]:
    return {
        p.name: p
        for split in ("train", "validation", "test")
        for p in (root / split).glob("Track*")
    }


def _read_track(directory: Path) -> tuple[dict, np.ndarray, list[np.ndarray]]:
    metadata = yaml.safe_load((directory / "metadata.yaml").read_text())
    mix, rate = sf.read(directory / "mix.flac", dtype="int16")
    mix = mix.astype(np.int32)
    assert rate == 22050
    stems = []
    for stem_id in metadata["stems"]:
        audio, stem_rate = sf.read(directory / "stems" / f"{stem_id}.flac", dtype="int16")
        assert stem_rate == 22050 and audio.ndim == 1
        stems.append(audio.astype(np.int32))
    return metadata, mix, stems


def test_layout_metadata_and_disjoint_splits(tiny_synth):
    tracks = _tracks(tiny_synth)
    assert sorted(tracks) == ["Track00001", "Track00002", "Track00003"]
    for index in range(3):
        assert (tiny_synth / split_of(index) / track_name(index)).is_dir()
    assert {split_of(i) for i in range(3)} == {"train", "validation", "test"}
    names = [{p.name for p in (tiny_synth / s).iterdir()} for s in ("train", "validation", "test")]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    for directory in tracks.values():
        metadata, _, _ = _read_track(directory)
        assert metadata["stems"], directory
        for stem_id, info in metadata["stems"].items():
            assert (directory / "stems" / f"{stem_id}.flac").is_file()
            assert (directory / "MIDI" / f"{stem_id}.mid").read_bytes()[:4] == b"MThd"
            assert info["is_drum"] == (info["inst_class"] == "Drums")
            if info["inst_class"] not in ("Bass", "Drums", "Guitar", "Piano"):
                assert info["source_kind"] in ("gm", "voice", "noise") and info["family"], info
                continue  # a non-target part (tests/core/data/test_synth_others.py)
            ranges = {"Bass": range(32, 40), "Guitar": range(24, 32), "Piano": range(0, 8)}
            if not info["is_drum"]:
                assert info["program_num"] in ranges[info["inst_class"]]
            assert info["plugin_name"] in (
                "FluidR3_GM.sf2", "MuseScore_General_Lite.sf3", *KIT_FONT_FILES
            )
            assert info["source_kind"] in ("gm", "kit")
            assert info["midi_program_name"]


def test_stems_are_aligned_non_trivial_and_sum_exactly_to_the_mixture(tiny_synth):
    for directory in _tracks(tiny_synth).values():
        _, mix, stems = _read_track(directory)
        lengths = {len(s) for s in stems} | {len(mix)}
        assert lengths == {int(3.0 * 22050)}, directory
        assert np.array_equal(np.sum(stems, axis=0), mix), directory
        scale = 1 / 32768
        assert not is_silent(mix * scale, 1e-6)
        assert sum(not is_silent(s * scale, 1e-6) for s in stems) >= 1
        peak = np.abs(mix).max() * scale
        assert 0.4 < peak < 0.95  # normalised to -6..-1 dBFS, never clipped


def test_same_seed_gives_identical_audio_and_rerun_skips(tiny_synth, tmp_path):
    again = tmp_path / "again"
    generate_dataset(again, songs=2, seconds=3.0, seed=7, jobs=1)
    for name in ("Track00001", "Track00002"):
        first = _read_track(next(p for n, p in _tracks(tiny_synth).items() if n == name))
        second = _read_track(_tracks(again)[name])
        assert first[0]["stems"] == second[0]["stems"]
        assert np.array_equal(first[1], second[1])
        for a, b in zip(first[2], second[2], strict=True):
            assert np.array_equal(a, b)
    report = generate_dataset(again, songs=2, seconds=3.0, seed=7, jobs=1)
    assert (report.written, report.skipped) == (0, 2)
    with pytest.raises(OutputExistsError):
        generate_dataset(again, songs=1, seconds=3.0, seed=8, jobs=1)


def test_a_different_seed_gives_different_songs(tiny_synth, tmp_path):
    other = tmp_path / "other"
    generate_dataset(other, songs=1, seconds=3.0, seed=8, jobs=1)
    _, mix_a, _ = _read_track(_tracks(tiny_synth)["Track00001"])
    _, mix_b, _ = _read_track(_tracks(other)["Track00001"])
    assert not np.array_equal(mix_a, mix_b)


def test_song_seeds_depend_on_seed_and_index_only():
    assert song_seed(0, 5) == song_seed(0, 5)
    assert len({song_seed(0, i) for i in range(100)} | {song_seed(1, i) for i in range(100)}) == 200


def test_parallel_workers_write_the_same_tracks(tmp_path):
    from core.data.synth.fonts import default_fonts

    fluid = [str(default_fonts()[0])]  # the quick-loading font keeps the workers' start short
    generate_dataset(tmp_path / "serial", songs=2, seconds=1.0, seed=5, jobs=1, fonts=fluid)
    generate_dataset(tmp_path / "parallel", songs=2, seconds=1.0, seed=5, jobs=2, fonts=fluid)
    serial, parallel = _tracks(tmp_path / "serial"), _tracks(tmp_path / "parallel")
    assert sorted(serial) == sorted(parallel) == ["Track00001", "Track00002"]
    for name in serial:
        assert np.array_equal(_read_track(serial[name])[1], _read_track(parallel[name])[1])


def test_songs_vary_in_style_key_tempo_programs_and_activity():
    from core.data.synth.fonts import default_fonts

    fonts = default_fonts()
    songs = [compose_song(song_seed(0, i), 30.0, fonts) for i in range(40)]
    assert len({s.plan.style.name for s in songs}) >= 5
    assert len({s.plan.key for s in songs}) >= 15
    assert len({s.plan.bpm for s in songs}) >= 20
    programs = {(stem.instrument, stem.sound.program) for s in songs for stem in s.stems}
    for instrument in ("bass", "drums", "guitar", "piano"):
        assert len({p for i, p in programs if i == instrument}) >= 3, instrument
    # instruments drop in and out: some section of some song leaves a present part out
    assert any(
        section.active != song.plan.parts for song in songs for section in song.plan.sections
    )
    assert any(len(s.stems) < 4 for s in songs)


def test_each_stem_renders_into_its_own_output():
    from core.data.synth.fonts import default_fonts
    from core.data.synth.render import render_song

    four = frozenset({"bass", "drums", "guitar", "piano"})
    songs = (compose_song(song_seed(0, i), 2.0, default_fonts(), parts=four) for i in range(50))
    song = next(s for s in songs if len(s.stems) == 4)
    assert [s.instrument for s in song.stems] == ["bass", "drums", "guitar", "piano"]
    for solo in range(len(song.stems)):
        stems = tuple(
            dataclasses.replace(s, notes=s.notes if i == solo else ())
            for i, s in enumerate(song.stems)
        )
        audio = render_song(dataclasses.replace(song, stems=stems), 22050)
        loud = [float(np.abs(row).max()) > 1e-3 for row in audio]
        assert loud == [i == solo for i in range(len(song.stems))], (solo, loud)


def _soundfont_stems(song):
    """The song without its sung and noise parts (FluidSynth renders the rest)."""
    return dataclasses.replace(song, stems=tuple(s for s in song.stems if s.sound.font is not None))


def test_rendering_does_not_depend_on_what_was_rendered_before():
    from core.data.synth.fonts import default_fonts
    from core.data.synth.render import render_song

    fonts = default_fonts()
    first = _soundfont_stems(compose_song(song_seed(1, 0), 2.0, fonts))
    other = _soundfont_stems(compose_song(song_seed(1, 1), 2.0, fonts))
    a = render_song(first, 22050)
    render_song(other, 22050)
    assert np.array_equal(a, render_song(first, 22050))


def test_each_stem_sounds_as_when_rendered_alone_with_its_own_font():
    from core.data.synth.fonts import default_fonts
    from core.data.synth.render import render_song

    fonts = default_fonts()
    songs = (_soundfont_stems(compose_song(song_seed(2, i), 3.0, fonts)) for i in range(200))
    song = next(
        s for s in songs if len({st.sound.font for st in s.stems}) == 2 and len(s.stems) >= 3
    )
    together = render_song(song, 22050)
    for index, stem in enumerate(song.stems):
        alone = render_song(dataclasses.replace(song, stems=(stem,)), 22050)[0]
        error = np.sum((alone - together[index]) ** 2) / max(np.sum(alone**2), 1e-12)
        # FluidSynth renders a few presets (MuseScore's slap bass 36) slightly
        # differently when other channels play (-34 dB here, -40 dB before the
        # generator's rewrite picked another song); a stem of another instrument
        # leaking in would be far louder than -30 dB.
        assert error < 1e-3, (stem.part, stem.sound.program, stem.sound.font.name, error)
