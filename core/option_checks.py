"""The checks of a user's separation choices, one function per check.

The command line (:mod:`core.cli`, and :func:`core.jobs.run_batch` before any file is
touched) and the desktop app (:meth:`desktop.options.AppOptions.problems`) call the same
functions, so a choice one accepts the other accepts too, with the same reason when it
does not. Each check raises :class:`~core.errors.ConfigError` with a message that names
the choice and the way out; the CLI prints it as one line, the app as a sentence.

Torch- and numpy-free: option parsers import it while ``stemforge --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.instruments import HIGH_BAND_MODES, INSTRUMENTS
from core.outputs import check_template

if TYPE_CHECKING:
    from core.jobs import SeparationOptions
    from core.model import StemModel

OUTPUT_FORMATS: tuple[str, ...] = ("wav", "flac", "ogg")
"""Output formats (each is also the file extension); ``ogg`` is Vorbis, lossy."""

BIT_DEPTHS: tuple[str, ...] = ("PCM_16", "PCM_24", "FLOAT")
"""Bit depths a user may ask for (PCM_32 is also kept when the input has it)."""

LOSSLESS_PCM: tuple[str, ...] = ("PCM_16", "PCM_24")
"""The bit depths FLAC can hold."""

__all__ = [
    "BIT_DEPTHS", "OUTPUT_FORMATS", "SEED_RANGE", "check_high_band", "check_output_format", "check_preset",
    "check_seed", "check_stems", "check_threads", "check_subtype", "check_template", "validate_options",
]


def check_stems(stems: Iterable[str], available: Iterable[str] = INSTRUMENTS) -> tuple[str, ...]:
    """``stems`` as a tuple when it names at least one stem, only ones in ``available``,
    and each once (a stem named twice would have two outputs but one file)."""
    stems, available = tuple(stems), tuple(available)
    unknown = [name for name in stems if name not in available]
    if unknown:
        raise ConfigError(f"unknown stem(s) {', '.join(unknown)}; choose from {','.join(available)}")
    if not stems:
        raise ConfigError("choose at least one instrument")
    repeated = sorted({name for name in stems if stems.count(name) > 1})
    if repeated:
        raise ConfigError(f"stem(s) {', '.join(repeated)} named more than once; name each stem once")
    return stems


SEED_RANGE = (0, 2**64 - 1)
"""The seeds a render accepts: those of torch's generators (an unsigned 64-bit number)."""


def check_seed(seed: int) -> int:
    """``seed`` when it is a whole number in :data:`SEED_RANGE`."""
    low, high = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, int) or not low <= seed <= high:
        raise ConfigError(f"seed {seed!r} is out of range; choose a whole number from {low} to {high} (2^64 - 1)")
    return seed


def check_threads(threads: int | None) -> None:
    """``threads`` (torch's CPU threads for a run) is None (leave them) or a whole number >= 1."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads must be a whole number of at least 1, not {threads!r}")


def check_preset(preset: str, available: Iterable[str]) -> None:
    """``preset`` must be one of the model's presets (``available``)."""
    available = tuple(available)
    if preset not in available:
        raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(available)}")


def check_high_band(mode: str) -> None:
    """``mode`` must be one of :data:`~core.instruments.HIGH_BAND_MODES`."""
    if mode not in HIGH_BAND_MODES:
        raise ConfigError(f"unknown high-band mode {mode!r}; choose from {', '.join(HIGH_BAND_MODES)}")


def check_subtype(subtype: str, fmt: str) -> str:
    """A bit depth the format ``fmt`` can hold, upper-cased (``VORBIS`` for ``ogg``)."""
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    subtype = subtype.upper()
    if fmt == "ogg":
        return "VORBIS"
    if subtype not in BIT_DEPTHS and subtype != "PCM_32":
        raise ConfigError(f"unknown bit depth {subtype!r}; choose from {', '.join(BIT_DEPTHS)}")
    if fmt == "flac" and subtype not in LOSSLESS_PCM:
        raise ConfigError(f"FLAC cannot hold {subtype} samples; choose PCM_16 or PCM_24, or the WAV format")
    return subtype


def check_output_format(fmt: str, subtype: str | None) -> None:
    """The user's format and bit depth fit together; ``None`` keeps each input's depth,
    which the format can always hold (FLAC stores a float input as PCM_24). OGG (Vorbis)
    is lossy and has no bit depth to choose."""
    if fmt == "ogg" and subtype is not None:
        raise ConfigError(f"OGG (Vorbis) is lossy and has no bit depth, so {subtype.upper()} cannot apply; "
                          "leave out the bit depth, or choose WAV or FLAC")
    check_subtype(subtype if subtype is not None else "PCM_24", fmt)


def validate_options(options: SeparationOptions, model: StemModel) -> None:
    """Every check of a batch's options against the model, before any file is touched."""
    check_stems(options.stems, model.instruments)
    if options.preset is not None:  # None: the model's default preset, always one it has
        check_preset(options.preset, model.presets)
    check_high_band(options.high_band)
    check_output_format(options.format, options.subtype)
    check_template(options.template)
    check_seed(options.seed)
    check_threads(options.threads)
