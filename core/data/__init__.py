"""Training and evaluation data: the Slakh2100 reader (:mod:`core.data.slakh`), the
PyTorch datasets (:mod:`core.data.datasets`) and the synthetic Slakh-like generator
(:mod:`core.data.synth`)."""
