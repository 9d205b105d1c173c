"""What every part writer shares: turning musical positions into humanised notes."""

from __future__ import annotations

import random

from core.data.synth.midi import Note
from core.data.synth.song import SongPlan

END_MARGIN_SECONDS = 0.05
"""Notes stop this long before the end of the song, so releases fit in the audio."""


class PartWriter:
    """Collects the notes of one part.

    ``add(beat, length, pitch, velocity)`` places a note at a position in beats (swing
    applied by :meth:`SongPlan.time`), with a small random timing offset (Gaussian,
    ``timing_ms`` standard deviation, clipped to 3 sigma) and velocity spread
    (uniform +-``velocity_spread``). Notes past the end of the song are dropped or cut.
    """

    def __init__(
        self,
        plan: SongPlan,
        rng: random.Random,
        timing_ms: float = 4.0,
        velocity_spread: int = 6,
    ) -> None:
        self.plan = plan
        self.rng = rng
        self.timing = timing_ms / 1000.0
        self.velocity_spread = velocity_spread
        self.notes: list[Note] = []

    def add(
        self,
        beat: float,
        length: float,
        pitch: int,
        velocity: float,
        delay: float = 0.0,
    ) -> None:
        """Add a note of ``length`` beats; ``delay`` (seconds) shifts it, e.g. for strums."""
        jitter = 0.0
        if self.timing > 0:
            jitter = max(-3 * self.timing, min(3 * self.timing, self.rng.gauss(0.0, self.timing)))
        start = max(0.0, self.plan.time(beat) + delay + jitter)
        end = self.plan.time(beat + length) + delay
        limit = self.plan.seconds - END_MARGIN_SECONDS
        if start >= limit - 0.02:
            return
        end = min(end, limit)
        spread = self.velocity_spread
        velocity = int(round(velocity)) + (self.rng.randint(-spread, spread) if spread else 0)
        velocity = max(1, min(127, velocity))
        if not 0 <= pitch <= 127:
            return
        self.notes.append(Note(start, max(0.02, end - start), int(pitch), velocity))


def energy_velocity(energy: float, low: int = 58, high: int = 112) -> float:
    """Base velocity of a section with energy in [0, 1]."""
    return low + (high - low) * energy
