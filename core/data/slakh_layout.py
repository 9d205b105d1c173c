"""What a Slakh2100-style track folder holds: which audio files make each target.

Two layouts are understood, per track folder ``ROOT/{split}/TrackXXXXX``:

- **Slakh2100** (also what ``stemforge synth`` writes): ``metadata.yaml`` with
  ``stems: {S00: {inst_class, is_drum, audio_rendered, ...}, ...}`` and the audio
  in ``stems/S00.flac`` (``audio_dir`` from the metadata, ``.flac`` or ``.wav``).
  A stem with ``is_drum: true`` or ``inst_class: Drums`` counts as drums; classes
  Bass, Guitar, Piano map to their targets; other classes are dropped, or summed
  into an "other" part of the mixture with ``include_other=True``. Stems marked
  ``audio_rendered: false`` are ignored. ``mix.flac`` is not read: the mixture is
  the sum of the targets (core/METHOD.md section 1), plus "other" when asked.
- **MSDM preprocessed**: ``bass.wav``, ``drums.wav``, ``guitar.wav``,
  ``piano.wav`` (``.flac`` accepted); an absent file is a silent target.

Splits are ``train``, ``validation``, ``test`` (and Slakh's ``omitted``).

:func:`inspect_track` raises :class:`UnusableTrack` with the reason when a track's
metadata is unreadable, a listed stem file is missing or unreadable, its stems differ
in length or sample rate, it has no stem of the four classes, or it is empty. Nothing
here decodes audio (:mod:`core.data.slakh` does, into its cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
import yaml

from core.errors import ConfigError
from core.instruments import INSTRUMENTS

SPLITS = ("train", "validation", "test", "omitted")
CLASS_TO_INSTRUMENT = {"Bass": "bass", "Drums": "drums", "Guitar": "guitar", "Piano": "piano"}
OTHER = "other"
AUDIO_SUFFIXES = (".flac", ".wav")


class _BadTrack(Exception):
    pass


class UnusableTrack(Exception):
    """Why a track folder cannot be used (the message is the reason)."""


@dataclass(frozen=True)
class TrackSource:
    """Where a track's audio is: for each of the four instruments (and "other") the
    files to sum. An instrument with no file is a silent target."""

    name: str
    directory: Path
    layout: str
    parts: dict[str, tuple[Path, ...]]

    def files(self) -> list[Path]:
        return sorted({path for paths in self.parts.values() for path in paths})


def _find_audio(base: Path) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        candidate = base.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _slakh_parts(directory: Path, include_other: bool) -> dict[str, list[Path]]:
    try:
        with open(directory / "metadata.yaml", encoding="utf-8") as handle:
            metadata = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise _BadTrack(f"unreadable metadata.yaml ({type(error).__name__})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("stems"), dict):
        raise _BadTrack("metadata.yaml has no 'stems' mapping")
    audio_dir = directory / str(metadata.get("audio_dir") or "stems")
    parts: dict[str, list[Path]] = {}
    for stem_id, info in sorted(metadata["stems"].items(), key=lambda item: str(item[0])):
        if not isinstance(info, dict):
            raise _BadTrack(f"metadata.yaml entry {stem_id} is not a mapping")
        if info.get("audio_rendered", True) is False:
            continue
        if info.get("is_drum") is True:
            part = "drums"
        else:
            part = CLASS_TO_INSTRUMENT.get(str(info.get("inst_class")))
        if part is None:
            if not include_other:
                continue
            part = OTHER
        path = _find_audio(audio_dir / str(stem_id))
        if path is None:
            raise _BadTrack(f"missing stem file {audio_dir.name}/{stem_id}.flac")
        parts.setdefault(part, []).append(path)
    return parts


def _preprocessed_parts(directory: Path) -> dict[str, list[Path]]:
    parts = {}
    for instrument in INSTRUMENTS:
        path = _find_audio(directory / instrument)
        if path is not None:
            parts[instrument] = [path]
    if not parts:
        raise _BadTrack("no metadata.yaml and no bass/drums/guitar/piano audio file")
    return parts


def _check_alignment(parts: dict[str, list[Path]]) -> None:
    """All stems must have the same sample rate and the same number of frames."""
    shapes: dict[Path, tuple[int, int]] = {}
    for paths in parts.values():
        for path in paths:
            try:
                info = sf.info(str(path))
            except (RuntimeError, sf.LibsndfileError) as error:
                raise _BadTrack(f"unreadable {path.name} ({error})") from None
            shapes[path] = (info.samplerate, info.frames)
    if len(set(shapes.values())) > 1:
        described = ", ".join(
            f"{p.name}: {f} frames at {r} Hz" for p, (r, f) in sorted(shapes.items())
        )
        raise _BadTrack(f"mismatched stems ({described})")
    if shapes and next(iter(shapes.values()))[1] == 0:
        raise _BadTrack("empty audio")


def inspect_track(directory: Path, include_other: bool = False) -> TrackSource:
    """The :class:`TrackSource` of one track folder; raises :class:`UnusableTrack` with
    the reason when the track cannot be used."""
    try:
        if (directory / "metadata.yaml").exists():
            layout = "slakh"
            parts = _slakh_parts(directory, include_other)
        else:
            layout = "preprocessed"
            parts = _preprocessed_parts(directory)
        if not any(parts.get(instrument) for instrument in INSTRUMENTS):
            raise _BadTrack("no bass, drums, guitar or piano stem")
        _check_alignment(parts)
    except _BadTrack as reason:
        raise UnusableTrack(str(reason)) from None
    return TrackSource(directory.name, directory, layout, {k: tuple(v) for k, v in parts.items()})


def split_directory(root: str | Path, split: str) -> Path:
    """``root/split``, or ConfigError naming the splits that do exist."""
    root = Path(root)
    directory = root / split
    if not directory.is_dir():
        present = [s for s in SPLITS if (root / s).is_dir()]
        hint = (
            f"it has {', '.join(present)}" if present else "it has no train/validation/test folder"
        )
        raise ConfigError(f"{root}: no split {split!r} ({hint})")
    return directory


def track_directories(root: str | Path, split: str) -> list[Path]:
    """The track folders of a split, sorted by name (hidden folders ignored)."""
    directory = split_directory(root, split)
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
