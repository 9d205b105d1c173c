"""Measuring quality: the paper's evaluation protocol, the sigma_max sweep and tuning.

- :mod:`core.evaluation.metrics`: SI-SDR, SI-SDRi, the silence rule.
- :mod:`core.evaluation.protocol`: chunks -> windows -> SI-SDRi per stem, both conventions,
  mixture and ideal-ratio-mask reference rows.
- :mod:`core.evaluation.sweep` / :mod:`core.evaluation.tune`: SI-SDRi against sigma_max,
  and the per-preset choice written into a bundle.
- ``command`` (``stemforge eval``), ``sweep_command`` (``stemforge sweep``),
  ``tune_command`` (``stemforge tune``).
"""
