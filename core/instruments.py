"""The instrument labels the models know, and the model's signal format."""

INSTRUMENTS: tuple[str, ...] = ("bass", "drums", "guitar", "piano")
"""Slakh2100 classes, in label order: the one-hot index of a label is its position here."""

RESIDUAL_STEM = "other"
"""Name of the residual stem: input minus the sum of the extracted stems."""

RESIDUAL_STEM_BESIDE_OTHER = "residual"
"""The residual's name when the model has a stem of its own called ``other`` (Demucs)."""


def residual_stem(model_stems: tuple[str, ...] | list[str] = INSTRUMENTS) -> str:
    """The residual's name for a model with these stems: :data:`RESIDUAL_STEM` (``other``),
    or :data:`RESIDUAL_STEM_BESIDE_OTHER` (``residual``) when one of the model's own stems is
    called ``other``, whether or not that stem is selected, so the two never collide and a
    name means the same thing for every render of that model."""
    return RESIDUAL_STEM_BESIDE_OTHER if RESIDUAL_STEM in model_stems else RESIDUAL_STEM

MODEL_SAMPLE_RATE = 22050
"""Every network works on mono waveforms at this rate (core/METHOD.md section 1)."""

HIGH_BAND_MODES: tuple[str, ...] = ("assign", "learned", "residual")
"""What happens to an input's content above the model's band (MODEL_SAMPLE_RATE / 2):
``assign`` hands each stem its share by a rule (:mod:`core.audio.high_band`),
``learned`` by a small trained network (:mod:`core.audio.learned_high_band`),
``residual`` leaves it all to the residual stem."""

DEFAULT_HIGH_BAND = "learned"
"""Measured with the shipped model (2026-12-02, ``stemforge eval --full-band``, test splits of
two 44.1 kHz sets, one of recorded instruments): the drums' high band scores +0.52 / +0.27
dB SI-SDRi with ``learned`` against -36.4 / -28.4 dB with ``assign``, and every stem's high
band stays at or above 0 dB with ``learned`` only (resources/models/stemforge-lite/MODEL_CARD.md)."""
