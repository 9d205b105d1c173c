"""Helpers writing hand-made Slakh-style tracks for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import yaml


def tone(
    seconds: float, rate: int, frequency: float, amplitude: float = 0.2, channels: int = 1
) -> np.ndarray:
    """``(frames, channels)`` float32 sine (a different phase per channel)."""
    t = np.arange(int(round(seconds * rate))) / rate
    columns = [amplitude * np.sin(2 * np.pi * frequency * t + c) for c in range(channels)]
    return np.stack(columns, axis=1).astype(np.float32)


def write_slakh_track(
    split_dir: Path,
    name: str,
    stems: dict[str, tuple[dict, np.ndarray | None]],
    rate: int = 22050,
) -> Path:
    """A track in the original Slakh layout. ``stems``: id -> (metadata, audio or None
    for "listed but no file")."""
    directory = split_dir / name
    (directory / "stems").mkdir(parents=True)
    metadata = {"audio_dir": "stems", "stems": {}}
    for stem_id, (info, audio) in stems.items():
        metadata["stems"][stem_id] = info
        if audio is not None:
            sf.write(directory / "stems" / f"{stem_id}.flac", audio, rate, subtype="PCM_24")
    (directory / "metadata.yaml").write_text(yaml.safe_dump(metadata))
    return directory


def write_preprocessed_track(
    split_dir: Path, name: str, stems: dict[str, np.ndarray], rate: int = 22050
) -> Path:
    directory = split_dir / name
    directory.mkdir(parents=True)
    for instrument, audio in stems.items():
        sf.write(directory / f"{instrument}.wav", audio, rate, subtype="FLOAT")
    return directory


def stem_info(inst_class: str, is_drum: bool = False, rendered: bool = True) -> dict:
    return {
        "inst_class": inst_class,
        "is_drum": is_drum,
        "audio_rendered": rendered,
        "program_num": 0,
    }
