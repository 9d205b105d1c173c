"""Writing a rendered song in the Slakh2100 layout.

::

    DIR/{train,validation,test}/TrackNNNNN/
        metadata.yaml      # stems: {S00: {inst_class, is_drum, program_num, ...}, ...}
        mix.flac           # exactly the sum of the stems (same 16-bit integers summed)
        other.wav          # the sum of the non-target stems (silence when there are none)
        stems/S00.flac ... # one mono 16-bit FLAC per stem, all the same length
        MIDI/S00.mid ...   # the notes of each stem (as Slakh ships them)

The split of a song depends on its index alone (index mod 10: 1 -> validation,
2 -> test, else train), so splits are disjoint, 80/10/10, and do not change when a
dataset is extended with more songs. A track is written into a hidden temporary
folder and renamed when complete, so an interrupted run leaves no half track.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from core.data.synth.compose import INST_CLASS, Song
from core.data.synth.gm import program_name
from core.data.synth.midi import DRUM_CHANNEL, build_midi_file, program_change
from core.data.synth.mixdown import active_level_db

SPLITS = ("train", "validation", "test")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C emitter is about 10x faster
GENERATOR_VERSION = 5
"""Bumped whenever a change to the generator changes the audio for a given seed."""


OTHER_FILE = "other.wav"
"""Per track: the sum of the non-target stems (their integer sum / 32768, as 32-bit float)."""


def split_of(index: int) -> str:
    """The split of the song with 0-based ``index``."""
    position = index % 10
    if position == 1:
        return "validation"
    if position == 2:
        return "test"
    return "train"


def track_name(index: int) -> str:
    """Slakh-style track folder name; indices are 0-based, names 1-based."""
    return f"Track{index + 1:05d}"


def generation_record(
    seed: int, index: int, seconds: float, sample_rate: int, sources: dict
) -> dict:
    """What identifies a generated track; equal records mean equal audio. ``sources``
    describes the palette (:meth:`core.data.synth.sources.Palette.describe`)."""
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "song_index": int(index),
        "seconds": float(seconds),
        "sample_rate": int(sample_rate),
        "sources": sources,
    }


def existing_record(track_dir: Path) -> dict | None:
    """The generation record of an already written track, or None."""
    try:
        with open(track_dir / "metadata.yaml", encoding="utf-8") as handle:
            metadata = yaml.safe_load(handle)
        return metadata.get("stemforge", {}).get("generation")
    except (OSError, yaml.YAMLError, AttributeError):
        return None


def to_pcm16(stems: np.ndarray) -> np.ndarray:
    """Float stems in [-1, 1) to int16 (round to nearest, clipped to the int16 range)."""
    return np.clip(np.round(stems * 32768.0), -32768, 32767).astype(np.int16)


def write_track(
    track_dir: Path,
    song: Song,
    stems_pcm: np.ndarray,
    sample_rate: int,
    scale: float,
    record: dict,
) -> None:
    """Write one track atomically. ``stems_pcm``: int16 ``(stems, samples)``.

    The mixture is the int32 sum of the int16 stems; the caller scaled the song so it
    fits in int16 (checked here), hence mix.flac == sum of stems/*.flac exactly.
    """
    mixture = stems_pcm.astype(np.int32).sum(axis=0)
    if mixture.size and (mixture.max() > 32767 or mixture.min() < -32768):
        raise ValueError(f"{track_dir.name}: mixture exceeds 16 bits; the song was not normalised")
    track_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = track_dir.parent / f".{track_dir.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "stems").mkdir(parents=True)
    (staging / "MIDI").mkdir()

    stems_metadata = {}
    mix_level = active_level_db(mixture.astype(np.float32), sample_rate)
    for number, (stem, audio) in enumerate(zip(song.stems, stems_pcm, strict=True)):
        stem_id = f"S{number:02d}"
        sf.write(
            staging / "stems" / f"{stem_id}.flac",
            audio,
            sample_rate,
            subtype="PCM_16",
            format="FLAC",
            compression_level=0.0,
        )
        channel = DRUM_CHANNEL if stem.is_drum else 0
        source = stem.sound.source
        events = [] if stem.is_drum else [program_change(0.0, channel, stem.sound.program)]
        other_fields = {} if stem.other is None else {
            "family": stem.other.family, "role": stem.other.role,
            **({"voice": stem.other.voice.name} if stem.other.voice else {}),
        }
        midi = build_midi_file(song.plan.bpm, {channel: list(stem.notes)}, events)
        (staging / "MIDI" / f"{stem_id}.mid").write_bytes(midi)
        stems_metadata[stem_id] = {
            "inst_class": stem.inst_class,
            "is_drum": stem.is_drum,
            "program_num": int(stem.sound.program),
            "midi_program_name": (program_name(stem.sound.program, stem.is_drum) if stem.other is None
                                  else f"{stem.other.family} ({source.name})"),
            "plugin_name": source.font.name if source.font else source.name,
            "audio_rendered": True,
            "midi_saved": True,
            "part": stem.part,
            "pattern": stem.pattern,
            "source_kind": source.kind,
            "source": source.name,
            "licence": source.licence,
            "gain_db": round(float(stem.sound.gain_db), 2),
            "level_db_re_mix": _relative_level(audio, mix_level, sample_rate),
            "chain": [effect.describe() for effect in stem.sound.chain],
            **other_fields,
        }
    other_rows = [i for i, stem in enumerate(song.stems) if stem.instrument not in INST_CLASS]
    other = stems_pcm[other_rows].astype(np.int32).sum(axis=0) if other_rows else np.zeros_like(mixture)
    # float32 holds every integer sum exactly, even where the subset exceeds 16 bits
    sf.write(staging / OTHER_FILE, other.astype(np.float32) / np.float32(32768.0), sample_rate,
             subtype="FLOAT")
    sf.write(
        staging / "mix.flac",
        mixture.astype(np.int16),
        sample_rate,
        subtype="PCM_16",
        format="FLAC",
        compression_level=0.0,
    )

    plan = song.plan
    metadata = {
        "UUID": f"stemforge-{record['seed']}-{record['song_index']}",
        "audio_dir": "stems",
        "midi_dir": "MIDI",
        "normalized": True,
        "overall_gain": round(float(scale), 6),
        "target_peak": round(float(song.peak_db), 2),
        "stems": stems_metadata,
        "stemforge": {
            "generation": record,
            "style": plan.style.name,
            "key": plan.key.name,
            "bpm": plan.bpm,
            "meter": f"{plan.beats_per_bar}/4",
            "sections": [f"{s.name}:{s.bars}" for s in plan.sections],
            "chords": " ".join(span.chord.symbol for span in plan.chords),
            "bus_chain": [effect.describe() for effect in song.bus_chain],
            "loudness": mix_loudness(mixture),
        },
    }
    with open(staging / "metadata.yaml", "w", encoding="utf-8") as handle:
        yaml.dump(metadata, handle, Dumper=_DUMPER, sort_keys=False)

    if track_dir.exists():
        shutil.rmtree(track_dir)
    os.replace(staging, track_dir)


def _relative_level(audio: np.ndarray, mix_level: float, sample_rate: int) -> float | None:
    """Active level of a stem minus that of the mix (dB; None for a silent stem)."""
    level = active_level_db(audio.astype(np.float32), sample_rate)
    if not (np.isfinite(level) and np.isfinite(mix_level)):
        return None
    return round(float(level - mix_level), 2)


def mix_loudness(mixture: np.ndarray) -> dict[str, float]:
    """RMS and peak level (dBFS) and crest factor (dB) of an int16-scale mixture."""
    x = mixture.astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    to_db = lambda v: round(float(20.0 * np.log10(max(v, 1e-10))), 2)  # noqa: E731
    return {"rms_dbfs": to_db(rms), "peak_dbfs": to_db(peak), "crest_db": to_db(peak / max(rms, 1e-10))}


def remove_partial_tracks(out_dir: Path) -> None:
    """Delete staging folders an interrupted run left behind."""
    for split in SPLITS:
        for partial in (out_dir / split).glob(".Track*.partial-*"):
            shutil.rmtree(partial, ignore_errors=True)
