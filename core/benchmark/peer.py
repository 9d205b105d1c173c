"""The peer a producer would use instead: HTDemucs (the ``demucs`` package), random weights.

Its trained weights cannot be downloaded here, so only speed is compared: the
architecture of the released four-stem ``htdemucs`` model (41.5 M parameters: the
package's defaults plus a 7.8 s segment and 512 bottom channels) is built with random
weights and run the way the ``demucs`` command runs it: the file is read, normalised,
split into overlapping segments by ``demucs.apply.apply_model`` (one random shift,
overlap 0.25), and the four stems are written as WAV files at the input's bit depth.

Installing it without torchaudio: ``demucs`` 4.1.0 imports torchaudio only in its
training, audio-file and repitch modules, none of which ``demucs.htdemucs`` or
``demucs.apply`` import; its ``torchaudio`` requirement is in the ``train`` extra only.
The light install is ``pip install --no-deps "demucs==4.1.0" einops julius tqdm``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from core.instruments import INSTRUMENTS

INSTALL_HINT = 'pip install --no-deps "demucs==4.1.0" einops julius tqdm'
HTDEMUCS_SEGMENT = Fraction(39, 5)  # seconds, the released htdemucs
HTDEMUCS_BOTTOM_CHANNELS = 512


class PeerUnavailable(Exception):
    """The ``demucs`` package (or one of the modules HTDemucs imports) is missing."""


@dataclass(frozen=True)
class Peer:
    """The peer model, its parameter count and the demucs version it came from."""

    model: torch.nn.Module
    parameters: int
    version: str


def load_htdemucs(samplerate: int = 44100, channels: int = 2, seed: int = 0) -> Peer:
    """HTDemucs with the released four-stem architecture and random weights.

    Raises:
        PeerUnavailable: with the missing module and how to install the peer.
    """
    try:
        import demucs
        from demucs.apply import apply_model  # noqa: F401  (checked here, used in run_htdemucs)
        from demucs.htdemucs import HTDemucs
    except ImportError as error:
        missing = getattr(error, "name", None) or str(error)
        if missing == "torchaudio" or "torchaudio" in str(error):
            raise PeerUnavailable(
                f"the demucs package imports torchaudio ({error}); Stemforge must not install "
                "torchaudio (it breaks the CPU torch build), so the peer was skipped"
            ) from None
        raise PeerUnavailable(f"HTDemucs unavailable (missing module {missing}); install it with: {INSTALL_HINT}") from None
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = HTDemucs(sources=list(INSTRUMENTS), audio_channels=channels, samplerate=samplerate,
                         segment=HTDEMUCS_SEGMENT, bottom_channels=HTDEMUCS_BOTTOM_CHANNELS)
    finally:
        torch.random.set_rng_state(state)
    model.eval()
    parameters = sum(p.numel() for p in model.parameters())
    return Peer(model, parameters, getattr(demucs, "__version__", "?"))


def run_htdemucs(peer: Peer, path: Path, out_dir: Path) -> float:
    """Separate ``path`` as the demucs command does, writing four WAV stems; returns seconds.

    File reading and writing are inside the timing, as for Stemforge's figure.
    """
    from demucs.apply import apply_model

    model = peer.model
    started = time.perf_counter()
    info = sf.info(str(path))
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (n, C)
    if rate != model.samplerate or audio.shape[1] != model.audio_channels:
        raise ValueError(f"HTDemucs was built for {model.samplerate} Hz x {model.audio_channels}; "
                         f"{path.name} is {rate} Hz x {audio.shape[1]}")
    wav = torch.from_numpy(audio.T.copy())
    reference = wav.mean(0)
    mean, std = reference.mean(), reference.std() + 1e-8
    with torch.inference_mode():
        sources = apply_model(model, ((wav - mean) / std)[None], shifts=1, split=True, overlap=0.25,
                              progress=False)[0]
    sources = sources * std + mean  # (4, C, n)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, source in zip(model.sources, sources, strict=True):
        sf.write(str(out_dir / f"{name}.wav"), np.clip(source.numpy().T, -1, 1), rate, subtype=info.subtype)
    return time.perf_counter() - started
