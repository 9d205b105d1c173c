"""A minimal ctypes binding to libfluidsynth (2.x), just what rendering stems needs.

Why the library and not the ``fluidsynth`` program: the program parses the
soundfont again for every file (0.1 s for FluidR3_GM.sf2, about 2 s for the
compressed MuseScore_General_Lite.sf3, which alone would exceed the budget of 100x
real time), and it can only write the stereo mix, so every stem would need its own
run. Through the library each worker process parses each font once
(:class:`FontCache`) and lends it to a fresh synth per song, and one pass renders
every stem into its own output: MIDI channel ``c`` is mixed into audio group
``c % groups`` (``synth.audio-groups``), so giving each stem a channel with a
distinct residue yields one stereo buffer per stem.

Determinism: a fresh :class:`Synth` per song (cheap with borrowed fonts) makes the
output a function of the song alone; FluidSynth itself draws no random numbers in
this path (no dither on float output). Events take effect at FluidSynth's internal
64-frame block boundaries, the same for every run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

import numpy as np

from core.errors import StemforgeError

INSTALL_HINT = (
    "install Debian packages fluidsynth fluid-soundfont-gm musescore-general-soundfont-small"
)
_LIBRARY_NAMES = ("fluidsynth", "fluidsynth-3", "libfluidsynth-3")
_FALLBACK_FILES = ("libfluidsynth.so.3", "libfluidsynth.3.dylib", "libfluidsynth-3.dll")
_OK = 0  # FLUID_OK


class SynthUnavailableError(StemforgeError):
    """libfluidsynth (or a soundfont) is missing: the message says what to install."""


_LOG_FUNCTION = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_SILENT_LOG = _LOG_FUNCTION(lambda level, message, data: None)


@functools.cache
def library() -> ctypes.CDLL:
    """Load libfluidsynth once per process, declare the signatures used here, mute its log."""
    candidates = [ctypes.util.find_library(name) for name in _LIBRARY_NAMES]
    candidates += list(_FALLBACK_FILES)
    lib = None
    for candidate in candidates:
        if not candidate:
            continue
        try:
            lib = ctypes.CDLL(candidate)
            break
        except OSError:
            continue
    if lib is None:
        raise SynthUnavailableError(f"libfluidsynth not found; {INSTALL_HINT}")

    p, i, d, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p
    signatures = {
        "new_fluid_settings": (p, []),
        "delete_fluid_settings": (None, [p]),
        "fluid_settings_setnum": (i, [p, s, d]),
        "fluid_settings_setint": (i, [p, s, i]),
        "new_fluid_synth": (p, [p]),
        "delete_fluid_synth": (None, [p]),
        "fluid_synth_sfload": (i, [p, s, i]),
        "fluid_synth_get_sfont_by_id": (p, [p, i]),
        "fluid_synth_add_sfont": (i, [p, p]),
        "fluid_synth_remove_sfont": (i, [p, p]),
        "fluid_sfont_get_preset": (p, [p, i, i]),
        "fluid_preset_get_name": (s, [p]),
        "fluid_synth_program_select": (i, [p, i, i, i, i]),
        "fluid_synth_noteon": (i, [p, i, i, i]),
        "fluid_synth_noteoff": (i, [p, i, i]),
        "fluid_synth_cc": (i, [p, i, i, i]),
        "fluid_synth_process": (i, [p, i, i, p, i, p]),
        "fluid_synth_set_interp_method": (i, [p, i, i]),
        "fluid_set_log_function": (p, [i, _LOG_FUNCTION, p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    for level in range(5):  # FLUID_PANIC .. FLUID_DBG
        lib.fluid_set_log_function(level, _SILENT_LOG, None)
    return lib


class Synth:
    """One FluidSynth instance rendering ``groups`` separate stereo outputs.

    ``interpolation`` is FluidSynth's sample interpolation order (0 none, 1 linear,
    4 fourth-order, 7 seventh-order). Reverb is computed per group
    (``synth.effects-groups = groups``) and returned apart from the dry signal, so the
    caller chooses the wet level of every stem. Chorus is off. Typical use:
    ``load_font`` or ``add_shared_font``, ``program_select`` per channel, ``attach``
    the output buffers, then alternate ``note_on``/``note_off`` with ``render``.
    """

    def __init__(
        self,
        sample_rate: int,
        groups: int,
        *,
        polyphony: int = 256,
        reverb_room: float = 0.5,
        reverb_damp: float = 0.3,
        reverb_width: float = 0.8,
        gain: float = 0.5,
        reverb: bool = True,
        midi_channels: int = 16,
        interpolation: int = 4,
    ) -> None:
        lib = library()
        self._lib = lib
        self.sample_rate = int(sample_rate)
        self.groups = int(groups)
        self._settings = lib.new_fluid_settings()
        for name, value in (
            ("synth.sample-rate", float(sample_rate)),
            ("synth.gain", float(gain)),
            ("synth.reverb.room-size", float(reverb_room)),
            ("synth.reverb.damp", float(reverb_damp)),
            ("synth.reverb.width", float(reverb_width)),
            ("synth.reverb.level", 1.0),
        ):
            lib.fluid_settings_setnum(self._settings, name.encode(), value)
        for name, value in (
            ("synth.audio-channels", self.groups),
            ("synth.audio-groups", self.groups),
            ("synth.effects-groups", self.groups),
            ("synth.polyphony", int(polyphony)),
            ("synth.reverb.active", int(reverb)),
            ("synth.chorus.active", 0),
            ("synth.threadsafe-api", 0),
            ("synth.dynamic-sample-loading", 1),
            ("synth.midi-channels", int(midi_channels)),
        ):
            lib.fluid_settings_setint(self._settings, name.encode(), value)
        self._synth = lib.new_fluid_synth(self._settings)
        if not self._synth:
            lib.delete_fluid_settings(self._settings)
            raise SynthUnavailableError("FluidSynth could not create a synthesizer")
        self._fonts: dict[Path, int] = {}
        self._shared: list[int] = []
        self._attached: tuple[np.ndarray, np.ndarray | None] | None = None
        self._samples = 0
        lib.fluid_synth_set_interp_method(self._synth, -1, int(interpolation))

    # -- fonts and presets -------------------------------------------------------------
    def load_font(self, path: Path) -> int:
        """Load a soundfont (once per synth) and return its FluidSynth id."""
        path = Path(path)
        if path not in self._fonts:
            font_id = self._lib.fluid_synth_sfload(self._synth, str(path).encode(), 0)
            if font_id < 0:
                raise SynthUnavailableError(f"FluidSynth cannot load soundfont {path}")
            self._fonts[path] = font_id
        return self._fonts[path]

    def add_shared_font(self, sfont: int) -> int:
        """Use a soundfont object loaded by another synth (see :class:`FontCache`) and
        return its id here. Nothing is parsed or decoded; the font is detached again,
        not freed, when this synth closes."""
        font_id = self._lib.fluid_synth_add_sfont(self._synth, sfont)
        if font_id < 0:
            raise SynthUnavailableError("FluidSynth cannot share a loaded soundfont")
        self._shared.append(sfont)
        return font_id

    def sfont_pointer(self, font_id: int) -> int:
        """The FluidSynth soundfont object behind ``font_id`` (for :meth:`add_shared_font`)."""
        sfont = self._lib.fluid_synth_get_sfont_by_id(self._synth, font_id)
        if not sfont:
            raise SynthUnavailableError(f"no soundfont with id {font_id}")
        return sfont

    def preset_name(self, font_id: int, bank: int, program: int) -> str | None:
        """Name of a preset in a loaded font, or None if the font lacks it."""
        sfont = self._lib.fluid_synth_get_sfont_by_id(self._synth, font_id)
        if not sfont:
            return None
        preset = self._lib.fluid_sfont_get_preset(sfont, bank, program)
        if not preset:
            return None
        name = self._lib.fluid_preset_get_name(preset)
        return name.decode("latin-1").strip() if name else ""

    def program_select(self, channel: int, font_id: int, bank: int, program: int) -> None:
        if (
            self._lib.fluid_synth_program_select(self._synth, channel, font_id, bank, program)
            != _OK
        ):
            raise SynthUnavailableError(f"soundfont {font_id} has no preset {bank}:{program}")

    # -- events --------------------------------------------------------------------------
    def note_on(self, channel: int, key: int, velocity: int) -> None:
        self._lib.fluid_synth_noteon(self._synth, channel, key, velocity)

    def note_off(self, channel: int, key: int) -> None:
        self._lib.fluid_synth_noteoff(self._synth, channel, key)

    def control_change(self, channel: int, controller: int, value: int) -> None:
        self._lib.fluid_synth_cc(self._synth, channel, controller, value)

    # -- audio ---------------------------------------------------------------------------
    def attach(
        self, dry: np.ndarray, wet: np.ndarray | None, rows: list[int] | None = None
    ) -> None:
        """Choose the buffers :meth:`render` adds into.

        Shapes: ``dry`` and ``wet`` are C-contiguous float32 ``(groups, 2, samples)``.
        Audio group ``g`` goes to ``dry[rows[g]]`` (direct sound) and ``wet[rows[g]]``
        (its reverb return; ``wet=None`` drops the reverb returns); ``rows`` defaults to
        the identity.
        """
        for array in (dry,) if wet is None else (dry, wet):
            if array.dtype != np.float32 or not array.flags.c_contiguous:
                raise ValueError("render buffers must be C-contiguous float32")
            if array.shape[:2] != (self.groups, 2) or array.shape != dry.shape:
                raise ValueError(f"render buffers must have shape ({self.groups}, 2, samples)")
        rows = list(range(self.groups)) if rows is None else list(rows)
        if sorted(rows) != list(range(self.groups)):
            raise ValueError("rows must be a permutation of the groups")
        row_bytes = dry.shape[2] * 4
        self._out_bases = [
            dry.ctypes.data + (2 * rows[g] + side) * row_bytes
            for g in range(self.groups)
            for side in (0, 1)
        ]
        # Effects buffers, per group: reverb L, reverb R, chorus L, chorus R (chorus unused).
        self._fx_bases: list[int | None] = []
        for group in range(self.groups):
            if wet is None:
                self._fx_bases += [None, None, None, None]
                continue
            base = wet.ctypes.data + 2 * rows[group] * row_bytes
            self._fx_bases += [base, base + row_bytes, None, None]
        self._attached = (dry, wet)  # keeps the memory alive while FluidSynth holds pointers
        self._samples = dry.shape[2]

    def render(self, start: int, frames: int) -> None:
        """Add ``frames`` frames at sample ``start`` into the attached buffers."""
        if frames <= 0:
            return
        if self._attached is None or start < 0 or start + frames > self._samples:
            raise ValueError("render outside the attached buffers")
        offset = start * 4
        out = (ctypes.c_void_p * len(self._out_bases))(*[base + offset for base in self._out_bases])
        fx = (ctypes.c_void_p * len(self._fx_bases))(
            *[None if base is None else base + offset for base in self._fx_bases]
        )
        status = self._lib.fluid_synth_process(
            self._synth, int(frames), len(self._fx_bases), fx, len(self._out_bases), out
        )
        if status != _OK:
            raise SynthUnavailableError("FluidSynth failed to render audio")

    def close(self) -> None:
        if self._synth:
            for sfont in self._shared:  # detach, so deleting this synth leaves them alive
                self._lib.fluid_synth_remove_sfont(self._synth, sfont)
            self._shared.clear()
            self._lib.delete_fluid_synth(self._synth)
            self._synth = None
        if self._settings:
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __enter__(self) -> Synth:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - safety net only
        try:
            self.close()
        except Exception:
            pass


class FontCache:
    """The soundfonts of this process, loaded once into an idle "holder" synth.

    Parsing a font costs 20 ms (FluidR3_GM) to 2 s (the compressed MuseScore font),
    too much per song. The holder keeps the parsed font objects, which every song's
    fresh :class:`Synth` borrows with :meth:`Synth.add_shared_font` (well under a
    millisecond). The holder also keeps every preset the generator uses selected, so
    their samples stay loaded (FluidSynth loads samples of selected presets only).
    Loading a font checks that it has all of ``presets``.
    """

    CHANNELS = 256

    def __init__(self, presets: list[tuple[int, int]]) -> None:
        self._presets = presets
        self._holder: Synth | None = None
        self._next_channel = 0
        self._sfonts: dict[Path, int] = {}

    def sfont(self, path: Path, presets: list[tuple[int, int]] | None = None) -> int:
        """The loaded font object of ``path`` (loading and checking it on first use for
        ``presets``, default the cache's General MIDI set; a single-kit font names its
        one preset)."""
        path = Path(path)
        if path not in self._sfonts:
            if self._holder is None:
                self._holder = Synth(22050, 1, reverb=False, midi_channels=self.CHANNELS)
            font_id = self._holder.load_font(path)
            for bank, program in self._presets if presets is None else presets:
                if self._holder.preset_name(font_id, bank, program) is None:
                    raise SynthUnavailableError(
                        f"soundfont {path.name} lacks preset {bank}:{program}; "
                        "use a complete General MIDI font"
                    )
                if self._next_channel < self.CHANNELS:
                    self._holder.program_select(self._next_channel, font_id, bank, program)
                    self._next_channel += 1
            # Keep the object itself: lending it to another synth renumbers its id.
            self._sfonts[path] = self._holder.sfont_pointer(font_id)
        return self._sfonts[path]
