"""A singing voice for the training songs: spoken syllables turned into sung notes.

Debian's ``espeak-ng`` (GPL-3.0-or-later; a separate program, run as a subprocess) speaks
one short word per note. Praat's overlap-add resynthesis (PSOLA, through the
``praat-parselmouth`` package) then imposes the melody on it:

- **duration**: the first ``c = min(0.35 L, 0.12 s)`` of a syllable of length ``L`` (its
  onset consonant) keeps its speed, the rest is stretched by ``f = (D - c) / (L - c)`` so
  the syllable lasts the note's ``D`` seconds (a sung vowel is a held spoken one);
- **pitch**, in cents above the note's frequency ``440 * 2^((p - 69) / 12)``, at output time
  ``t`` from the note onset::

      cents(t) = P e^{-t / tau} + V(t) sin(2 pi r t + phi) + J(t)

  with ``P`` the interval from the previous note when sung legato (portamento, ``tau`` 25-60
  ms), or a small scoop from below otherwise; vibrato of rate ``r`` 5-6.5 Hz whose depth
  ``V(t)`` grows from 0 after 0.15 s to 20-60 cents by 0.7 s (long notes grow it); jitter
  ``J`` a sum of three slow random sinusoids (2-9 Hz, 3-8 cents in all).

Each syllable gets a 10 ms fade at both ends and lands with its vowel on the beat (the
consonant sings a little early, as singers do). Breaths (band-limited noise, 0.15-0.35 s)
precede some phrases. Settings (:data:`VOICES`) pair an espeak language with a voice
variant and a range; :data:`HELDOUT_VOICE` sings only in the validation split.
"""

from __future__ import annotations

import functools
import io
import math
import random
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.data.synth.fluidsynth import SynthUnavailableError
from core.data.synth.midi import Note

VOICE_RATE = 22050
"""espeak-ng's native output rate; voices are sung at this rate and resampled after."""
VOICE_LICENCE = "GPL-3.0-or-later (espeak-ng voices), Praat PSOLA via praat-parselmouth"
FADE_SECONDS = 0.01


@dataclass(frozen=True)
class VoiceSetting:
    """One singer: espeak ``language`` and ``variant``, MIDI range ``[low, high]``."""

    language: str
    variant: str
    low: int
    high: int

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}"


VOICES: tuple[VoiceSetting, ...] = (
    VoiceSetting("en-us", "m1", 45, 67),
    VoiceSetting("en-gb", "m3", 47, 67),
    VoiceSetting("es", "m2", 45, 65),
    VoiceSetting("it", "m4", 48, 69),
    VoiceSetting("de", "m6", 45, 64),
    VoiceSetting("en-us", "f1", 57, 77),
    VoiceSetting("en-gb", "f2", 57, 79),
    VoiceSetting("es", "f3", 55, 76),
    VoiceSetting("it", "f5", 57, 77),
    VoiceSetting("fr", "f4", 56, 76),
    VoiceSetting("pt", "f2", 56, 76),
)
"""The voices of the training and test splits: five male, six female ranges."""

HELDOUT_VOICE = VoiceSetting("fr", "m7", 46, 66)
"""The one voice setting only the validation split sings."""

WORDS: dict[str, tuple[str, ...]] = {
    "en": ("love", "night", "fire", "heart", "home", "rain", "light", "sky", "stay", "go",
           "run", "high", "low", "dream", "time", "day", "way", "you", "me", "my", "oh",
           "yeah", "down", "road", "gold", "wild", "free", "soul", "blue", "sun", "moon",
           "cold", "burn", "fall", "shine", "hold", "cry", "now", "told", "mind"),
    "es": ("sol", "mar", "luz", "voy", "tu", "mi", "fue", "yo", "paz", "sin", "mas", "ya",
           "dos", "fin", "den", "ven", "son", "por", "dia", "ay"),
    "it": ("sol", "mar", "tu", "mai", "noi", "qui", "per", "ma", "piu", "vai", "sei", "re",
           "cuor", "amor", "no", "si", "te", "la"),
    "de": ("nacht", "licht", "herz", "mein", "dein", "zeit", "weg", "traum", "hier", "kalt",
           "wind", "du", "ja", "nie", "mehr", "gold"),
    "fr": ("nuit", "jour", "coeur", "moi", "toi", "feu", "ciel", "mer", "vent", "seul",
           "bleu", "tout", "vie", "loin", "mon", "doux"),
    "pt": ("mar", "sol", "luz", "flor", "dor", "voz", "paz", "sim", "meu", "teu", "vem",
           "tu", "mais", "ceu"),
}
"""Short words per language (first two letters of the espeak language), one per note."""

OOHS: tuple[str, ...] = ("ooh", "aah", "oh", "mm")
"""What backing singers sing on held chords."""


class VoiceUnavailableError(SynthUnavailableError):
    """espeak-ng or praat-parselmouth is missing: the message says what to install."""


def _parselmouth():
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError:
        raise VoiceUnavailableError(
            "the singing voice needs praat-parselmouth: pip install -e \".[data]\""
        ) from None
    return parselmouth, call


def check_available() -> None:
    """Raise VoiceUnavailableError unless both espeak-ng and parselmouth are there."""
    if shutil.which("espeak-ng") is None:
        raise VoiceUnavailableError("the singing voice needs espeak-ng: apt-get install espeak-ng")
    _parselmouth()


@functools.lru_cache(maxsize=512)
def speak(word: str, voice: str, speed: int = 150) -> np.ndarray:
    """float32 ``(n,)`` at :data:`VOICE_RATE`: ``word`` spoken by espeak-ng ``voice``
    (``language+variant``), its leading and trailing silence (below -40 dB of its peak)
    removed."""
    import soundfile as sf

    try:
        result = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", "45", "--stdout", word],
            capture_output=True, check=True, timeout=30,
        )
    except FileNotFoundError:
        raise VoiceUnavailableError("the singing voice needs espeak-ng: apt-get install espeak-ng") from None
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=False)
    if rate != VOICE_RATE:
        raise VoiceUnavailableError(f"espeak-ng wrote {rate} Hz, expected {VOICE_RATE}")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    loud = np.flatnonzero(np.abs(audio) > 0.01 * (np.max(np.abs(audio)) + 1e-12))
    if not loud.size:
        return np.zeros(0, np.float32)
    return np.ascontiguousarray(audio[loud[0]: loud[-1] + 1], np.float32)


@dataclass(frozen=True)
class SungNote:
    """One note to sing: ``note`` (seconds, MIDI pitch, velocity), its ``word``, and the
    pitch it glides from (None: a fresh onset)."""

    note: Note
    word: str
    glide_from: int | None


def phrase_notes(notes: Sequence[Note], rng: random.Random, words: Sequence[str],
                 legato_gap: float = 0.12) -> list[SungNote]:
    """Words and glides for a melody: a note whose predecessor ends less than
    ``legato_gap`` seconds before it glides from that pitch; a short word list is cycled
    per phrase so phrases repeat words, as lyrics do."""
    sung: list[SungNote] = []
    previous: Note | None = None
    phrase_words = [rng.choice(words) for _ in range(rng.randint(3, 6))]
    position = 0
    for note in sorted(notes, key=lambda n: n.start):
        legato = previous is not None and note.start - (previous.start + previous.duration) < legato_gap
        if not legato:
            position = 0
            if rng.random() < 0.3:
                phrase_words = [rng.choice(words) for _ in range(rng.randint(3, 6))]
        word = phrase_words[position % len(phrase_words)]
        position += 1
        sung.append(SungNote(note, word, previous.pitch if legato and previous else None))
        previous = note
    return sung


def _pitch_contour(rng: random.Random, seconds: float, glide_from: int | None, pitch: int,
                   times: np.ndarray) -> np.ndarray:
    """Cents above ``pitch`` at output ``times`` (seconds from the note onset)."""
    if glide_from is not None:
        start = 100.0 * (glide_from - pitch)
        tau = rng.uniform(0.025, 0.06)
    else:
        start = -rng.uniform(0.0, 60.0)  # a scoop from below
        tau = rng.uniform(0.02, 0.05)
    cents = start * np.exp(-times / tau)
    depth = rng.uniform(20.0, 60.0) * min(1.0, 0.4 + seconds)
    ramp = np.clip((times - 0.15) / 0.55, 0.0, 1.0)
    rate = rng.uniform(5.0, 6.5)
    cents += depth * ramp * np.sin(2 * np.pi * rate * times + rng.uniform(0, 2 * np.pi))
    for _ in range(3):
        cents += rng.uniform(1.0, 2.7) * np.sin(2 * np.pi * rng.uniform(2.0, 9.0) * times
                                                + rng.uniform(0, 2 * np.pi))
    return cents


MAX_PASS_STRETCH = 2.5
"""Praat's overlap-add lengthens a stretch at most about 3x per pass (measured: a 0.36 s
syllable asked for 1.2 s or 2 s came out at 1.07 s); longer notes take several passes."""


def _psola(audio: np.ndarray, onset: float, factor: float, rng: random.Random,
           contour=None) -> np.ndarray:
    """One overlap-add pass: ``audio`` (float32, :data:`VOICE_RATE`) with its first
    ``onset`` seconds kept and the rest stretched by ``factor``; ``contour(u, t)`` gives
    the pitch in Hz at input times ``u`` (output times ``t``), None keeps the pitch."""
    parselmouth, call = _parselmouth()
    length = audio.shape[0] / VOICE_RATE
    sound = parselmouth.Sound(audio.astype(np.float64), VOICE_RATE)
    manipulation = call(sound, "To Manipulation", 0.01, 60, 600)
    duration_tier = call("Create DurationTier", "stretch", 0, length)
    call(duration_tier, "Add point", 0.0, 1.0 if onset > 0 else factor)
    if onset > 0:
        call(duration_tier, "Add point", onset, 1.0)
        call(duration_tier, "Add point", min(onset + 0.02, length), factor)
    call(duration_tier, "Add point", length, factor)
    call([manipulation, duration_tier], "Replace duration tier")
    if contour is not None:
        pitch_tier = call(manipulation, "Extract pitch tier")
        call(pitch_tier, "Remove points between", 0, length)
        original = np.arange(0.0, length, 0.01)
        output = np.where(original < onset, original, onset + (original - onset) * factor)
        for u, hz in zip(original, contour(output), strict=True):
            call(pitch_tier, "Add point", float(u), float(hz))
        call([pitch_tier, manipulation], "Replace pitch tier")
    # Praat's overlap-add draws random periods in unvoiced stretches: seed it from ``rng``
    # so that a song seed gives bit-identical audio
    parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({rng.getrandbits(31)})")
    result = call(manipulation, "Get resynthesis (overlap-add)")
    parselmouth.praat.run("random_initializeSafelyAndUnpredictably ()")
    return np.asarray(result.values[0], np.float32)


def sing_note(syllable: np.ndarray, sung: SungNote, rng: random.Random,
              detune_cents: float = 0.0) -> np.ndarray:
    """float32 ``(m,)`` at :data:`VOICE_RATE`: ``syllable`` stretched to the note's length
    and sung on its pitch (see the module doc), with 10 ms fades. Stretches beyond
    :data:`MAX_PASS_STRETCH` run in several passes, the pitch imposed in the last."""
    length = syllable.shape[0] / VOICE_RATE
    target = max(sung.note.duration, 0.08)
    if length < 0.05:
        return np.zeros(int(target * VOICE_RATE), np.float32)
    onset = min(0.35 * length, 0.12)
    if target > onset + 0.02:
        factor = (target - onset) / max(length - onset, 1e-3)
    else:
        onset, factor = 0.0, target / length
    factor = min(max(factor, 0.25), 60.0)
    passes = max(1, math.ceil(math.log(factor) / math.log(MAX_PASS_STRETCH))) if factor > 1 else 1
    step = factor ** (1.0 / passes)
    audio = syllable
    for _ in range(passes - 1):
        audio = _psola(audio, onset, step, rng)
    hz = 440.0 * 2.0 ** ((sung.note.pitch - 69) / 12.0)
    cents_rng = random.Random(rng.getrandbits(32))

    def contour(times: np.ndarray) -> np.ndarray:
        cents = _pitch_contour(cents_rng, target, sung.glide_from, sung.note.pitch, times)
        return hz * 2.0 ** ((cents + detune_cents) / 1200.0)

    audio = _psola(audio, onset, step, rng, contour)
    fade = min(int(FADE_SECONDS * VOICE_RATE), audio.shape[0] // 2)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    return audio


def breath(rng: random.Random) -> np.ndarray:
    """float32 ``(n,)``: an inhale, band-limited noise (pedalboard filters) under a
    raised-cosine envelope of 0.15-0.35 s."""
    from core.data.synth.production import Effect, apply_chain

    n = int(rng.uniform(0.15, 0.35) * VOICE_RATE)
    noise = np.random.default_rng(rng.getrandbits(32)).standard_normal(n).astype(np.float32)
    shaped = apply_chain(noise, (
        Effect("HighpassFilter", (("cutoff_frequency_hz", rng.uniform(400, 900)),)),
        Effect("LowpassFilter", (("cutoff_frequency_hz", rng.uniform(3000, 7000)),)),
    ), VOICE_RATE)
    envelope = np.sin(np.linspace(0.0, np.pi, n, dtype=np.float32)) ** 2
    return shaped * envelope


def sing(notes: Sequence[Note], voice: VoiceSetting, seed: int, frames: int,
         words: Sequence[str] | None = None, detune_cents: float = 0.0,
         timing_ms: float = 0.0, breaths: bool = True) -> np.ndarray:
    """float32 ``(frames,)`` at :data:`VOICE_RATE`: the vocal line of ``notes`` sung by
    ``voice``. ``words`` default to the voice's language list (:data:`WORDS`);
    ``detune_cents`` and ``timing_ms`` (random per note, uniform +-) make a double
    differ from the lead it doubles; ``breaths`` before some phrases."""
    rng = random.Random(seed)
    words = tuple(words) if words else WORDS.get(voice.language[:2], WORDS["en"])
    out = np.zeros(frames, np.float32)
    speed = rng.randint(120, 170)
    for sung in phrase_notes(notes, rng, words):
        syllable = speak(sung.word, voice.name, speed)
        audio = sing_note(syllable, sung, rng, detune_cents + rng.uniform(-3, 3))
        gain = (sung.note.velocity / 100.0) ** 1.5
        lead_in = min(0.35 * syllable.shape[0] / VOICE_RATE, 0.12) * 0.6
        offset = sung.note.start - lead_in + rng.uniform(-timing_ms, timing_ms) / 1000.0
        if breaths and sung.glide_from is None and rng.random() < 0.5:
            air = breath(rng) * np.float32(0.05 * gain * (np.max(np.abs(audio)) + 1e-6))
            _add_at(out, air, offset - air.shape[0] / VOICE_RATE - 0.02)
        _add_at(out, audio * np.float32(gain), offset)
    return out


def _add_at(out: np.ndarray, audio: np.ndarray, seconds: float) -> None:
    start = int(math.floor(seconds * VOICE_RATE))
    if start < 0:
        audio, start = audio[-start:], 0
    stop = min(out.shape[0], start + audio.shape[0])
    if stop > start:
        out[start:stop] += audio[: stop - start]
