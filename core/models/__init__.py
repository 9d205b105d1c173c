"""Separators behind one interface, side by side, one module per concept.

- :mod:`core.models.presets`: a model's operating points and which are offered;
- :mod:`core.models.interface`: what a model declares and how it separates a segment;
- :mod:`core.models.store`: the user's model folder and the manifest of an installed model
  (no torch: ``stemforge models`` lists without loading anything);
- :mod:`core.models.registry`: model id or path -> description and loader, over every family;
- :mod:`core.models.hybrid_family`: Stemforge's own bundles (:mod:`core.bundle`, :mod:`core.hybrid`);
- :mod:`core.models.demucs_files` and :mod:`core.models.demucs_model`: the Demucs family
  (HTDemucs ``.th`` files and bag YAML, through the ``demucs`` package).

The next family (e.g. RoFormer) is one more ``*_family`` module registered in
:data:`core.models.registry.FAMILIES`.
"""
