"""Stemforge's desktop app (PySide6 + pyqtgraph + QtMultimedia).

Depends on :mod:`core`; ``core`` never imports anything from here. The engine runs
in one worker thread (:mod:`desktop.worker`); widgets never call torch.
"""
