"""The non-target parts of the synthetic songs: what is drawn, where it is held out, the
sung voice, the levels, and the five-stem sum of the written tracks."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import soundfile as sf
import yaml

from core.data.synth.compose import compose_song
from core.data.synth.generate import generate_dataset, song_seed
from core.data.synth.gm import NON_TARGET_PROGRAMS
from core.data.synth.midi import Note
from core.data.synth.mixdown import active_level_db, balance_other_parts
from core.data.synth.others import (
    FAMILIES,
    HELDOUT_FAMILIES,
    MAX_OTHER_PARTS,
    compose_other_parts,
    families_for,
    voices_for,
)
from core.data.synth.song import plan_song
from core.data.synth.sources import Palette
from core.data.synth.voice import HELDOUT_VOICE, VOICE_RATE, VOICES, SungNote, sing_note, speak

TARGETS = ("Bass", "Drums", "Guitar", "Piano")


def test_families_cover_every_gm_program_outside_the_four_classes_once():
    programs = [p for family in FAMILIES for p in family.programs]
    assert sorted(programs) == sorted(NON_TARGET_PROGRAMS)
    assert len(programs) == len(set(programs))


def test_held_out_families_and_voice_play_only_in_the_validation_pool():
    train = {f.name for f in families_for("train")}
    heldout = {f.name for f in families_for("heldout")}
    assert heldout == HELDOUT_FAMILIES and not train & heldout
    assert train | heldout == {f.name for f in FAMILIES}
    assert voices_for("heldout") == (HELDOUT_VOICE,) and HELDOUT_VOICE not in voices_for("train")
    for seed in range(60):
        plan = plan_song(random.Random(seed), 30.0)
        for pool, allowed in (("train", train), ("heldout", heldout)):
            for part in compose_other_parts(seed, plan, pool):
                if part.kind == "gm":
                    assert part.family in allowed
                if part.kind == "voice":
                    assert (part.voice == HELDOUT_VOICE) == (pool == "heldout")


def test_songs_draw_zero_to_four_parts_and_most_have_a_lead_vocal():
    counts, vocals = [], 0
    for seed in range(300):
        plan = plan_song(random.Random(seed), 30.0)
        parts = compose_other_parts(seed, plan, "train")
        counts.append(len(parts))
        vocals += any(p.family == "lead vocal" for p in parts)
        assert all(p.notes for p in parts)
    assert min(counts) == 0 and max(counts) == MAX_OTHER_PARTS
    assert 0.6 <= vocals / 300 <= 0.9


def test_the_four_target_stems_do_not_change_when_the_other_parts_are_added():
    from core.data.synth.fonts import default_fonts

    fonts = tuple(default_fonts())
    for index in range(10):
        seed = song_seed(0, index)
        without = compose_song(seed, 30.0, fonts, palette=Palette(fonts, recorded_share=0.0,
                                                                  other_parts=False))
        with_other = compose_song(seed, 30.0, fonts, palette=Palette(fonts, recorded_share=0.0))
        targets = tuple(s for s in with_other.stems if s.other is None)
        assert targets == without.stems
        assert (with_other.peak_db, with_other.bus_chain) == (without.peak_db, without.bus_chain)


def _f0_cents(audio: np.ndarray, pitch: int) -> np.ndarray:
    import parselmouth

    track = parselmouth.Sound(audio.astype(np.float64), VOICE_RATE).to_pitch(0.01, 60, 800)
    hz = track.selected_array["frequency"]
    hz = hz[hz > 0]
    return 1200 * np.log2(hz / (440.0 * 2 ** ((pitch - 69) / 12)))


@pytest.mark.parametrize("voice", [VOICES[0], VOICES[6]])
def test_a_sung_note_lasts_the_note_and_holds_its_pitch(voice):
    pitch = (voice.low + voice.high) // 2
    syllable = speak("day", voice.name)
    note = Note(0.0, 1.2, pitch, 100)
    audio = sing_note(syllable, SungNote(note, "day", None), random.Random(3))
    assert abs(audio.shape[0] / VOICE_RATE - 1.2) < 0.06
    cents = _f0_cents(audio[int(0.3 * VOICE_RATE):], pitch)  # after the scoop
    assert cents.size > 20
    assert abs(np.median(cents)) < 30  # on the note, vibrato around it
    assert 5 < np.percentile(np.abs(cents), 90) < 120  # the vibrato is there, not a wobble


def test_a_legato_note_glides_from_the_previous_pitch():
    voice = VOICES[0]
    syllable = speak("oh", voice.name)
    note = Note(0.0, 0.8, 57, 100)
    audio = sing_note(syllable, SungNote(note, "oh", glide_from=62), random.Random(4))
    start = _f0_cents(audio[: int(0.06 * VOICE_RATE)], 57)
    end = _f0_cents(audio[int(0.4 * VOICE_RATE):], 57)
    assert np.median(start) > 150  # still near the previous note, 500 cents above
    assert abs(np.median(end)) < 40


def test_a_lead_vocal_sits_at_or_above_the_instruments():
    from core.data.synth.fonts import default_fonts

    fonts = tuple(default_fonts())
    song = next(s for s in (compose_song(song_seed(5, i), 10.0, fonts) for i in range(50))
                if any(st.other and st.other.family == "lead vocal" for st in s.stems))
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((len(song.stems), 22050 * 10)).astype(np.float32)
    stems *= np.linspace(0.1, 2.0, len(song.stems), dtype=np.float32)[:, None]
    before = stems.copy()
    balance_other_parts(stems, song, 22050)
    targets = [active_level_db(x, 22050) for x, st in zip(stems, song.stems, strict=True) if st.other is None]
    for x, y, stem in zip(before, stems, song.stems, strict=True):
        if stem.other is None:
            assert np.array_equal(x, y)
        elif stem.other.family == "lead vocal":
            level = active_level_db(y, 22050)
            assert level == pytest.approx(max(targets) + stem.other.gain_db, abs=0.01)
            assert level >= max(targets) - 2.0


def test_written_tracks_sum_exactly_over_the_five_stems(tiny_synth):
    seen_other = False
    for metadata_path in tiny_synth.glob("*/Track*/metadata.yaml"):
        folder = metadata_path.parent
        metadata = yaml.safe_load(metadata_path.read_text())
        mix = sf.read(folder / "mix.flac", dtype="int16")[0].astype(np.int64)
        groups = {name: np.zeros_like(mix) for name in (*TARGETS, "other")}
        for stem_id, info in metadata["stems"].items():
            audio = sf.read(folder / "stems" / f"{stem_id}.flac", dtype="int16")[0].astype(np.int64)
            groups[info["inst_class"] if info["inst_class"] in TARGETS else "other"] += audio
        other = sf.read(folder / "other.wav", dtype="float32")[0].astype(np.float64) * 32768
        assert np.array_equal(other, groups["other"])
        assert np.array_equal(sum(groups.values()), mix)
        seen_other |= bool(np.any(groups["other"]))
    assert seen_other


def test_no_other_and_split_options(tmp_path):
    from core.data.synth.fonts import default_fonts

    fluid = [str(default_fonts()[0])]
    generate_dataset(tmp_path / "four", songs=12, seconds=1.0, seed=2, jobs=1, fonts=fluid,
                     other_parts=False, only_split="validation")
    tracks = sorted(p.name for p in (tmp_path / "four").glob("*/Track*"))
    assert tracks == ["Track00002", "Track00012"]  # indices 1 and 11: the validation split
    for metadata_path in (tmp_path / "four").glob("*/Track*/metadata.yaml"):
        classes = {i["inst_class"] for i in yaml.safe_load(metadata_path.read_text())["stems"].values()}
        assert classes <= set(TARGETS)
        assert not np.any(sf.read(metadata_path.parent / "other.wav")[0])


def test_a_song_without_other_parts_sums_as_before():
    from core.data.synth.fonts import default_fonts

    fonts = tuple(default_fonts())
    song = compose_song(song_seed(9, 0), 2.0, fonts)
    bare = dataclasses.replace(song, stems=tuple(s for s in song.stems if s.other is None))
    assert all(s.inst_class in TARGETS for s in bare.stems)
