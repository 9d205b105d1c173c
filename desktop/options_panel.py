"""The options column: model, instruments, quality preset, device, output folder, format and naming.

The instrument buttons are the chosen model's stems (its own names) plus its residual
(``Other (residual)``, or ``Residual`` for a model with a stem of its own called ``other``);
choosing another model rebuilds them, keeping the choice of every stem both models have."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.instruments import DEFAULT_HIGH_BAND, HIGH_BAND_MODES, RESIDUAL_STEM
from core.model import PRESET_ORDER
from desktop.model_info import ModelInfo
from desktop.model_picker import ModelPicker
from desktop.options import (
    BIT_DEPTH_LABELS,
    BIT_DEPTHS,
    DEVICE_LABELS,
    DEVICES,
    FORMATS,
    HIGH_BAND_LABELS,
    MAX_THREADS,
    AppOptions,
    bit_depth_problem,
)

TEMPLATE_HELP = ("Where each stem goes, under the output folder; ends in .{ext}.\n"
                 "Fields: {track} (input name), {folder} (the input's folder), {stem}, {ext}, "
                 "{preset}, {model}.\n"
                 "Default: {track}/{stem}.{ext}")
HIGH_BAND_HELP = ("The default model hears up to 11 kHz. For inputs above 22.05 kHz (44.1 or 48 kHz files),\n"
                  "\"Share (learned)\" (the default) gives each stem its share of the band above\n"
                  "11 kHz (cymbals, string noise), judged by a small trained network from the stems'\n"
                  "content just below; what no stem claims goes to Other. \"Share among the stems\"\n"
                  "judges the shares by a fixed rule instead. \"Leave in Other\" puts all of it in Other.")
THREADS_HELP = ("CPU threads for the networks and masks. One is the fastest on a computer busy with\n"
                "other work (threads then wait on each other); an idle computer with several cores\n"
                "may separate faster with more.")


def _set_item_enabled(combo: QComboBox, index: int, enabled: bool, tip: str = "") -> None:
    model = combo.model()
    if isinstance(model, QStandardItemModel):
        item = model.item(index)
        item.setEnabled(enabled)
        item.setToolTip(tip)


class OptionsPanel(QWidget):
    """Signals:
        changed(): any option changed (the window saves settings and re-validates).

    Args:
        model_info: the model shown first.
        models: the models to choose from (default: every installed model, listed by the
            :class:`ModelPicker`); ``[model_info]`` when the window was given its model.
    """

    changed = Signal()

    def __init__(self, model_info: ModelInfo, devices: dict[str, bool], parent: QWidget | None = None,
                 models: list[ModelInfo] | None = None):
        super().__init__(parent)
        self.setObjectName("optionsPanel")
        self._model_info = model_info
        self.stem_chips: dict[str, QToolButton] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.model_picker = ModelPicker(models if models is not None else None)
        layout.addWidget(self.model_picker)
        layout.addWidget(self._instrument_group())
        layout.addWidget(self._quality_group(devices))
        layout.addWidget(self._output_group())
        layout.addStretch(1)
        self.model_picker.select(model_info.model_id or "")
        self.set_model_info(model_info)
        self.model_picker.model_changed.connect(self._on_model_chosen)

    # construction -----------------------------------------------------------------
    def _instrument_group(self) -> QGroupBox:
        group = QGroupBox("Instruments")
        self._chip_grid = QGridLayout(group)
        self._chip_grid.setSpacing(6)
        return group

    def _build_chips(self, stems: tuple[str, ...], residual: str) -> None:
        """One checkable button per stem and one for the residual; a stem both the old and
        the new model have keeps its state, a new one starts checked."""
        before = {name: chip.isChecked() for name, chip in self.stem_chips.items()}
        residual_before = self.residual_chip.isChecked() if self.stem_chips else True
        for chip in self.stem_chips.values():
            self._chip_grid.removeWidget(chip)
            chip.deleteLater()
        self.stem_chips = {}
        for index, name in enumerate(stems):
            chip = self._chip(name, name.capitalize(), f"Extract the {name} stem")
            chip.setChecked(before.get(name, True) if name != residual else True)
            self._chip_grid.addWidget(chip, index // 2, index % 2)
        label = "Other (residual)" if residual == RESIDUAL_STEM else "Residual"
        chip = self._chip(residual, label, "Input minus the selected stems: everything else (what the model does "
                          f"not extract, and what its stems leave above its band), so stems + {residual} null "
                          "against the input.")
        chip.setChecked(residual_before)
        self._chip_grid.addWidget(chip, (len(stems) + 1) // 2, 0, 1, 2)
        self.residual_chip = chip
        self._stems, self._residual = tuple(stems), residual

    def _chip(self, name: str, text: str, tip: str) -> QToolButton:
        chip = QToolButton()
        chip.setObjectName("instrumentChip")
        chip.setProperty("stem", name)
        chip.setCheckable(True)
        chip.setText(text)
        chip.setToolTip(tip)
        chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        chip.setMinimumHeight(28)
        chip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        chip.toggled.connect(self.changed)
        self.stem_chips[name] = chip
        return chip

    def _quality_group(self, devices: dict[str, bool]) -> QGroupBox:
        group = QGroupBox("Quality and device")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.preset = QComboBox()
        self.preset.currentIndexChanged.connect(self._update_preset_summary)
        self.preset.currentIndexChanged.connect(self.changed)
        self.preset_summary = QLabel()
        self.preset_summary.setObjectName("hint")
        self.preset_summary.setWordWrap(True)
        self.device = QComboBox()
        for index, name in enumerate(DEVICES):
            self.device.addItem(DEVICE_LABELS[name], name)
            present = devices.get(name, False)
            _set_item_enabled(self.device, index, present, "" if present else "not available on this computer")
        self.device.currentIndexChanged.connect(self.changed)
        form.addRow("Preset", self.preset)
        form.addRow("", self.preset_summary)
        self.high_band = QComboBox()
        for name in HIGH_BAND_MODES:
            self.high_band.addItem(HIGH_BAND_LABELS[name], name)
        self.high_band.setToolTip(HIGH_BAND_HELP)
        self.high_band.currentIndexChanged.connect(self.changed)
        self.threads = QSpinBox()
        self.threads.setRange(1, min(MAX_THREADS, max(1, os.cpu_count() or 1)))
        self.threads.setToolTip(THREADS_HELP)
        self.threads.valueChanged.connect(self.changed)
        threads_label = QLabel("Threads")
        threads_label.setToolTip(THREADS_HELP)
        threads_label.setBuddy(self.threads)
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(6)
        device_row = QHBoxLayout()  # the device and its CPU threads share a row: the column fits an 820 px window
        device_row.setSpacing(6)
        device_row.addWidget(self.device, 1)
        device_row.addWidget(threads_label)
        device_row.addWidget(self.threads)
        form.addRow("Device", device_row)
        form.addRow("Above 11 kHz", self.high_band)
        return group

    def _output_group(self) -> QGroupBox:
        group = QGroupBox("Output")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText("folder for the stems")
        self.out_dir.editingFinished.connect(self.changed)
        browse = QPushButton("…")
        browse.setObjectName("browseButton")
        browse.setFixedWidth(32)
        browse.setToolTip("Choose the output folder")
        browse.clicked.connect(self.choose_out_dir)
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(self.out_dir)
        row.addWidget(browse)
        self.format = QComboBox()
        for name in FORMATS:
            self.format.addItem(name.upper(), name)
        self.format.currentIndexChanged.connect(self._update_bit_depths)
        self.format.currentIndexChanged.connect(self.changed)
        self.bit_depth = QComboBox()
        for name in BIT_DEPTHS:
            self.bit_depth.addItem(BIT_DEPTH_LABELS[name], name)
        self.bit_depth.currentIndexChanged.connect(self.changed)
        self.template = QLineEdit()
        self.template.setToolTip(TEMPLATE_HELP)
        self.template.textChanged.connect(self.changed)
        self.overwrite = QCheckBox("Replace existing stems")
        self.overwrite.setToolTip("Off: a track whose stems already exist is skipped.")
        self.overwrite.toggled.connect(self.changed)
        form.addRow("Folder", row)
        form.addRow("Format", self.format)
        form.addRow("Bit depth", self.bit_depth)
        form.addRow("Naming", self.template)
        form.addRow("", self.overwrite)
        return group

    # model and presets ----------------------------------------------------------
    def _on_model_chosen(self, info: ModelInfo) -> None:
        self.set_model_info(info)
        self.changed.emit()

    def set_model_info(self, info: ModelInfo) -> None:
        """Show ``info``'s stems (rebuilding the buttons when they differ) and presets."""
        self._model_info = info
        if not self.stem_chips or (tuple(info.stems), info.residual) != (self._stems, self._residual):
            self._build_chips(tuple(info.stems), info.residual)
        current = self.preset.currentData()
        self.preset.blockSignals(True)
        self.preset.clear()
        withheld = info.withheld_presets()
        for name in info.preset_names():
            self.preset.addItem(name.capitalize(), name)
            if name in withheld:
                _set_item_enabled(self.preset, self.preset.count() - 1, False,
                                  f"Not offered: {withheld[name]}.")
        self.preset.setCurrentIndex(self._offered_index(current or "balanced", withheld))
        self.preset.blockSignals(False)
        self._update_preset_summary()

    def _offered_index(self, wanted: str, withheld: dict[str, str]) -> int:
        """Index of ``wanted``, or of the nearest faster preset that is offered (the rule of
        :func:`core.model.default_preset`: a model without ``balanced`` starts on ``fast``)."""
        names = [self.preset.itemData(i) for i in range(self.preset.count())]
        order = list(PRESET_ORDER) if wanted in PRESET_ORDER else names
        if wanted in order:
            for name in reversed(order[: order.index(wanted) + 1]):
                if name in names and name not in withheld:
                    return names.index(name)
        return next((i for i, name in enumerate(names) if name not in withheld), 0)

    def _update_preset_summary(self) -> None:
        name = self.preset.currentData()
        summary = self._model_info.preset_summary(name) if name else ""
        self.preset_summary.setText(summary)
        self.preset.setToolTip(summary)

    def _update_bit_depths(self) -> None:
        """Disable the bit depths the chosen format cannot hold (the reason as tooltip)."""
        fmt = self.format.currentData()
        for index in range(self.bit_depth.count()):
            reason = bit_depth_problem(fmt, self.bit_depth.itemData(index))
            _set_item_enabled(self.bit_depth, index, not reason, reason)
        if bit_depth_problem(fmt, self.bit_depth.currentData()):
            self.bit_depth.setCurrentIndex(self.bit_depth.findData("PCM_24"))

    def choose_out_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder for the stems", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)
            self.changed.emit()

    # values -----------------------------------------------------------------------
    def options(self) -> AppOptions:
        return AppOptions(
            stems=tuple(name for name in self._stems if self.stem_chips[name].isChecked()),
            residual=self.residual_chip.isChecked(),
            preset=self.preset.currentData() or "balanced",
            device=self.device.currentData() or "auto",
            out_dir=Path(self.out_dir.text().strip()).expanduser() if self.out_dir.text().strip() else Path(""),
            format=self.format.currentData() or "wav",
            bit_depth=self.bit_depth.currentData() or "keep",
            template=self.template.text().strip(),
            overwrite=self.overwrite.isChecked(),
            high_band=self.high_band.currentData() or DEFAULT_HIGH_BAND,
            threads=self.threads.value(),
            model=self._model_info.model_id or "",
            model_stems=self._stems,
        )

    def set_options(self, options: AppOptions) -> None:
        """Show ``options``; its ``model``, when listed, is chosen first (its stems' buttons)."""
        if options.model and options.model != self._model_info.model_id:
            self.model_picker.select(options.model)
        widgets = [*self.stem_chips.values(), self.preset, self.device, self.format, self.bit_depth,
                   self.template, self.out_dir, self.overwrite, self.high_band, self.threads]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            for name in self._stems:
                self.stem_chips[name].setChecked(name in options.stems)
            self.residual_chip.setChecked(options.residual)
            self.preset.setCurrentIndex(self._offered_index(options.preset, self._model_info.withheld_presets()))
            self._select(self.device, options.device if self._device_enabled(options.device) else "auto")
            self._select(self.format, options.format)
            self._select(self.bit_depth, options.bit_depth)
            self.template.setText(options.template)
            self.out_dir.setText(str(options.out_dir))
            self.overwrite.setChecked(options.overwrite)
            self._select(self.high_band, options.high_band)
            self.threads.setValue(options.threads)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._update_bit_depths()
        self._update_preset_summary()

    def _device_enabled(self, name: str) -> bool:
        model = self.device.model()
        index = self.device.findData(name)
        return index >= 0 and (not isinstance(model, QStandardItemModel) or model.item(index).isEnabled())

    @staticmethod
    def _select(combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)


class OptionsColumn(QScrollArea):
    """The options panel in a column that scrolls only vertically.

    It is never narrower than the panel's minimum width plus a vertical scroll bar, so the
    panel is never cut off on the right (no horizontal scroll bar): the window's splitter
    and minimum width make room for it, and a short window scrolls the panel up and down.
    The width follows the panel (another model's longer name, for example)."""

    def __init__(self, panel: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("optionsScroll")
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(panel)
        panel.installEventFilter(self)

    def _width_for(self, panel_width: int) -> int:
        return panel_width + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self._width_for(self.widget().minimumSizeHint().width()), super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self._width_for(self.widget().sizeHint().width()), super().sizeHint().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the panel's minimum width may have changed
        return super().eventFilter(watched, event)

