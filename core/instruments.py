"""The instrument labels the models know, and the model's signal format."""

INSTRUMENTS: tuple[str, ...] = ("bass", "drums", "guitar", "piano")
"""Slakh2100 classes, in label order: the one-hot index of a label is its position here."""

RESIDUAL_STEM = "other"
"""Name of the residual stem: input minus the sum of the extracted stems."""

MODEL_SAMPLE_RATE = 22050
"""Every network works on mono waveforms at this rate (core/METHOD.md section 1)."""


def label_index(name: str) -> int:
    """Position of an instrument in :data:`INSTRUMENTS` (raises ValueError for unknown names)."""
    try:
        return INSTRUMENTS.index(name)
    except ValueError:
        raise ValueError(
            f"unknown instrument {name!r}; choose from {', '.join(INSTRUMENTS)}"
        ) from None
