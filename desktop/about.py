"""The About box: the app's version and the model card."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

import core
from desktop.model_info import ModelInfo
from desktop.resources import app_icon


class AboutDialog(QDialog):
    def __init__(self, model_info: ModelInfo, log_file: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About Stemforge")
        self.setWindowIcon(app_icon())
        self.resize(620, 520)
        layout = QVBoxLayout(self)
        header = QLabel(
            f"<h2>Stemforge {core.__version__}</h2>"
            "<p>Bass, drums, guitar and piano stems from your mixes: a U-Net extractor refined "
            "by a consistency-distilled diffusion model (Karchkhadze, Izadi, Zhang, 2024).</p>"
            + (f"<p>Log file: <code>{log_file}</code></p>" if log_file else "")
        )
        header.setWordWrap(True)
        header.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(True)
        self.card.setMarkdown(model_info.card_markdown())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(header)
        layout.addWidget(QLabel("<b>Model card</b>"))
        layout.addWidget(self.card, 1)
        layout.addWidget(buttons)
