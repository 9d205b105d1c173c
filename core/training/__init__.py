"""Training the three networks of core/METHOD.md and exporting them as a model bundle.

- :mod:`core.training.config`: frozen per-stage configurations (the one source of defaults).
- :mod:`core.training.loop`: the loop every stage shares (logs, EMA, checkpoints, exact
  resumption, bf16 autocast on CUDA, DistributedDataParallel under torchrun).
- :mod:`core.training.extractor`, :mod:`~core.training.diffusion`,
  :mod:`~core.training.distill`: the stages' networks and losses.
- :mod:`core.training.batches`, :mod:`~core.training.checkpoint`, :mod:`~core.training.ema`,
  :mod:`~core.training.distributed`, :mod:`~core.training.runs`: the loop's parts.
- :mod:`core.training.command` (``stemforge train``) and :mod:`core.training.export`
  (``stemforge export``): the command-line glue.
"""
