"""The synthetic Slakh-like dataset generator behind ``stemforge synth``.

Songs are composed from a seed (:mod:`.song`, :mod:`.compose`, :mod:`.parts`); each
stem draws its source (:mod:`.sources`): a General MIDI program or SoundFont kit
rendered with FluidSynth (:mod:`.render`, :mod:`.fluidsynth`, :mod:`.fonts`) or a
recorded instrument played by a sampler (:mod:`.recorded`); stems go through a
pedalboard production chain and a mix bus (:mod:`.production`, :mod:`.mixdown`) and are
written in the Slakh2100 layout (:mod:`.layout`) by :func:`generate_dataset`
(:mod:`.generate`); :func:`render_demo` (:mod:`.demo`) renders one stereo song.
"""

from core.data.synth.demo import render_demo
from core.data.synth.generate import GenerationReport, generate_dataset

__all__ = ["GenerationReport", "generate_dataset", "render_demo"]
