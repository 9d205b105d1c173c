"""The options column: instruments, quality preset, device, output folder, format and naming."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
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
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.instruments import DEFAULT_HIGH_BAND, HIGH_BAND_MODES, INSTRUMENTS, RESIDUAL_STEM
from core.model import PRESET_ORDER
from desktop.model_info import ModelInfo
from desktop.options import (
    BIT_DEPTH_LABELS,
    BIT_DEPTHS,
    DEVICE_LABELS,
    DEVICES,
    FORMATS,
    HIGH_BAND_LABELS,
    AppOptions,
    bit_depth_problem,
)

TEMPLATE_HELP = ("Where each stem goes, under the output folder; ends in .{ext}.\n"
                 "Fields: {track} (input name), {folder} (the input's folder), {stem}, {ext}, "
                 "{preset}, {model}.\n"
                 "Default: {track}/{stem}.{ext}")
HIGH_BAND_HELP = ("The model hears up to 11 kHz. For inputs above 22.05 kHz (44.1 or 48 kHz files),\n"
                  "\"Share (learned)\" (the default) gives each stem its share of the band above\n"
                  "11 kHz (cymbals, string noise), judged by a small trained network from the stems'\n"
                  "content just below; what no stem claims goes to Other. \"Share among the stems\"\n"
                  "judges the shares by a fixed rule instead. \"Leave in Other\" puts all of it in Other.")


def _set_item_enabled(combo: QComboBox, index: int, enabled: bool, tip: str = "") -> None:
    model = combo.model()
    if isinstance(model, QStandardItemModel):
        item = model.item(index)
        item.setEnabled(enabled)
        item.setToolTip(tip)


class OptionsPanel(QWidget):
    """Signals:
        changed(): any option changed (the window saves settings and re-validates).
    """

    changed = Signal()

    def __init__(self, model_info: ModelInfo, devices: dict[str, bool], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("optionsPanel")
        self._model_info = model_info
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self._instrument_group())
        layout.addWidget(self._quality_group(devices))
        layout.addWidget(self._output_group())
        layout.addStretch(1)
        self.set_model_info(model_info)

    # construction -----------------------------------------------------------------
    def _instrument_group(self) -> QGroupBox:
        group = QGroupBox("Instruments")
        grid = QGridLayout(group)
        grid.setSpacing(6)
        self.stem_chips: dict[str, QToolButton] = {}
        for index, name in enumerate(INSTRUMENTS + (RESIDUAL_STEM,)):
            chip = QToolButton()
            chip.setObjectName("instrumentChip")
            chip.setProperty("stem", name)
            chip.setCheckable(True)
            chip.setChecked(True)
            chip.setText(name.capitalize() if name != RESIDUAL_STEM else "Other (residual)")
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            chip.setMinimumHeight(28)
            chip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            chip.toggled.connect(self.changed)
            if name == RESIDUAL_STEM:
                chip.setToolTip("Input minus the selected stems: everything else (vocals, synths, "
                                "what the stems leave above 11 kHz), so stems + other null against the input.")
                grid.addWidget(chip, 2, 0, 1, 2)
            else:
                chip.setToolTip(f"Extract the {name} stem")
                grid.addWidget(chip, index // 2, index % 2)
            self.stem_chips[name] = chip
        return group

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
        form.addRow("Device", self.device)
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
    def set_model_info(self, info: ModelInfo) -> None:
        self._model_info = info
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
            stems=tuple(name for name in INSTRUMENTS if self.stem_chips[name].isChecked()),
            residual=self.stem_chips[RESIDUAL_STEM].isChecked(),
            preset=self.preset.currentData() or "balanced",
            device=self.device.currentData() or "auto",
            out_dir=Path(self.out_dir.text().strip()).expanduser() if self.out_dir.text().strip() else Path(""),
            format=self.format.currentData() or "wav",
            bit_depth=self.bit_depth.currentData() or "keep",
            template=self.template.text().strip(),
            overwrite=self.overwrite.isChecked(),
            high_band=self.high_band.currentData() or DEFAULT_HIGH_BAND,
        )

    def set_options(self, options: AppOptions) -> None:
        widgets = [*self.stem_chips.values(), self.preset, self.device, self.format, self.bit_depth,
                   self.template, self.out_dir, self.overwrite, self.high_band]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            for name in INSTRUMENTS:
                self.stem_chips[name].setChecked(name in options.stems)
            self.stem_chips[RESIDUAL_STEM].setChecked(options.residual)
            self.preset.setCurrentIndex(self._offered_index(options.preset, self._model_info.withheld_presets()))
            self._select(self.device, options.device if self._device_enabled(options.device) else "auto")
            self._select(self.format, options.format)
            self._select(self.bit_depth, options.bit_depth)
            self.template.setText(options.template)
            self.out_dir.setText(str(options.out_dir))
            self.overwrite.setChecked(options.overwrite)
            self._select(self.high_band, options.high_band)
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
