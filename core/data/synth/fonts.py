"""Which soundfonts the generator may use.

By default exactly the two MIT-licensed General MIDI fonts Debian ships (packages
``fluid-soundfont-gm`` and ``musescore-general-soundfont-small``), so every rendered
artefact stays license-clean; another font is used only when the user names it.
Drum kits: the two acoustic kits of Debian's ``avldrums.lv2-soundfont`` (GPL-2+) when
installed. Never ``timgm6mb-soundfont``: it is reserved for evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.data.synth.fluidsynth import INSTALL_HINT, SynthUnavailableError

DEFAULT_FONT_FILES = ("FluidR3_GM.sf2", "MuseScore_General_Lite.sf3")
SEARCH_DIRECTORIES = (
    Path("/usr/share/sounds/sf2"),
    Path("/usr/share/sounds/sf3"),
    Path("/usr/share/soundfonts"),
    Path("/usr/local/share/soundfonts"),
    Path("/opt/homebrew/share/soundfonts"),
)


def default_fonts() -> list[Path]:
    """Paths of the two default fonts; raises SynthUnavailableError if one is missing."""
    found: list[Path] = []
    for name in DEFAULT_FONT_FILES:
        for directory in SEARCH_DIRECTORIES:
            candidate = directory / name
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            raise SynthUnavailableError(f"soundfont {name} not found; {INSTALL_HINT}")
    return found


def resolve_fonts(user_fonts: Sequence[str | Path] | None) -> list[Path]:
    """The user's fonts (checked to exist) or the default pair."""
    if not user_fonts:
        return default_fonts()
    fonts: list[Path] = []
    for font in user_fonts:
        path = Path(font).expanduser()
        if not path.is_file():
            raise SynthUnavailableError(f"soundfont {path} does not exist")
        if path.suffix.lower() not in (".sf2", ".sf3"):
            raise SynthUnavailableError(f"{path} is not a SoundFont (.sf2/.sf3)")
        fonts.append(path.resolve())
    return fonts


def find_kit_fonts() -> list[Path]:
    """Debian's avldrums.lv2-soundfont kits that are installed (possibly none)."""
    from core.data.synth.sources import KIT_FONT_FILES

    found: list[Path] = []
    for name in KIT_FONT_FILES:
        for directory in SEARCH_DIRECTORIES:
            if (directory / name).is_file():
                found.append(directory / name)
                break
    return found
