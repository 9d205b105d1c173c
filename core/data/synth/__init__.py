"""The synthetic Slakh-like dataset generator behind ``stemforge synth``.

Songs are composed from a seed (:mod:`.song`, :mod:`.compose`, :mod:`.parts`),
rendered per instrument with FluidSynth and the Debian General MIDI soundfonts
(:mod:`.render`, :mod:`.fluidsynth`, :mod:`.fonts`), processed (:mod:`.effects`) and
written in the Slakh2100 layout (:mod:`.layout`) by :func:`generate_dataset`
(:mod:`.generate`); :func:`render_demo` (:mod:`.demo`) renders one stereo song.
"""

from core.data.synth.demo import render_demo
from core.data.synth.generate import GenerationReport, generate_dataset

__all__ = ["GenerationReport", "generate_dataset", "render_demo"]
