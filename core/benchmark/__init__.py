"""Measuring speed and memory: ``stemforge bench`` (:mod:`core.benchmark.command`).

- :mod:`core.benchmark.clip`: a synthetic stereo clip of any length, written block by block.
- :mod:`core.benchmark.memory`: peak memory of one separation in a fresh process.
- :mod:`core.benchmark.peer`: HTDemucs with random weights, run as the ``demucs`` command runs it.
- :mod:`core.benchmark.bench`: everything in one run, the goals, the Markdown table.
"""
