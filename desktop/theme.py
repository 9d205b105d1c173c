"""The studio look: Fusion style, a dark palette, one colour per stem, and the app's QSS.

The palette alone gives a consistent dark UI; ``resources/styles/studio.qss``
adds details (drop zone, banner, instrument chips). Missing style files only
lose the details.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from desktop.mixer import MIXTURE
from desktop.resources import resource_path

log = logging.getLogger(__name__)

STEM_COLORS: dict[str, str] = {
    MIXTURE: "#c9ced6",
    "bass": "#5b8def",
    "drums": "#f2a33a",
    "guitar": "#e4586e",
    "piano": "#a182f5",
    "other": "#4cc3a5",
}

WINDOW = "#1e2026"
BASE = "#16181d"
PANEL = "#262931"
TEXT = "#e3e6eb"
MUTED_TEXT = "#8d94a0"
PLOT_BACKGROUND = "#121419"


def stem_color(name: str) -> str:
    return STEM_COLORS.get(name, "#9aa4b1")


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: "#1b1d23",
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: MUTED_TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#3d6fd8",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7aa7ff",
        QPalette.ColorRole.Light: "#3a3e48",
        QPalette.ColorRole.Midlight: "#30343c",
        QPalette.ColorRole.Mid: "#23262d",
        QPalette.ColorRole.Dark: "#121419",
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d636e"))
    return palette


def stem_chip_rules() -> str:
    """QSS giving each checked instrument chip and stem row its stem's colour."""
    rules = []
    for name, colour in STEM_COLORS.items():
        rules.append(f'QToolButton#instrumentChip[stem="{name}"]:checked '
                     f'{{ background: {colour}; color: #111318; border-color: {colour}; }}')
        rules.append(f'QLabel#stemSwatch[stem="{name}"] {{ background: {colour}; }}')
    return "\n".join(rules)


def style_sheet() -> str:
    path = resource_path("styles", "studio.qss")
    try:
        base = path.read_text(encoding="utf-8")
    except OSError:
        log.warning("style sheet %s not found; using the plain dark palette", path)
        base = ""
    return base + "\n" + stem_chip_rules()


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(style_sheet())
