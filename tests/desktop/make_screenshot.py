"""Render the main window mid-run, with a fake model, to ``main-window-mid-run.png`` in the
current folder (or the path given). The README's screenshot is another: the real app after a
real separation of the demo track (``resources/screenshots/regenerate-main-window.sh``).

Run under a real X server (not the offscreen platform)::

    xvfb-run -a -s "-screen 0 1400x900x24" python3 tests/desktop/make_screenshot.py [OUT.png]

It queues four synthetic tracks (one of them corrupt), runs the tiny FilterBankModel
slowed down, shows the finished first track's stems, and grabs the window while the
third track is being separated.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = os.environ.get("SCREENSHOT_PLATFORM", "xcb")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.main_window import MainWindow  # noqa: E402
from desktop.model_info import ModelInfo  # noqa: E402
from desktop.theme import apply_theme  # noqa: E402
from tests.fakes import FilterBankModel  # noqa: E402

OUTPUT = Path(sys.argv[1] if len(sys.argv) > 1 else "main-window-mid-run.png").resolve()


def groove(seconds: float, rate: int = 44100, seed: int = 0) -> np.ndarray:
    """A stereo loop: kick on the beat, bass notes, hats and a chord pad. ``(frames, 2)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    beat = 0.5
    phase = t % beat
    kick = np.sin(2 * np.pi * 55 * phase * (1 + 2 * np.exp(-30 * phase))) * np.exp(-9 * phase)
    notes = np.array([41.2, 41.2, 49.0, 55.0])[(t // (2 * beat)).astype(int) % 4]
    bass = 0.5 * np.sin(2 * np.pi * notes * t) * (0.6 + 0.4 * np.exp(-4 * (t % beat)))
    noise = np.diff(rng.standard_normal(t.size + 1))
    hats = noise * np.exp(-60 * (t % (beat / 2))) * 0.5
    snare = noise * np.exp(-25 * ((t - beat) % (2 * beat))) * 0.6
    pad = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * 0.08
    pad *= 0.5 + 0.5 * np.sin(2 * np.pi * t / 8)
    step = beat / 4
    arp_notes = np.array([880.0, 1046.5, 1318.5, 1568.0])[(t // step).astype(int) % 4]
    arp = 0.35 * np.sin(2 * np.pi * arp_notes * t) * np.exp(-12 * (t % step))
    pluck_phase = t % (3 * beat)
    pluck = 0.4 * np.sign(np.sin(2 * np.pi * 2637.0 * t)) * np.exp(-10 * pluck_phase) * (t > 4)
    swell = 0.55 + 0.45 * np.clip(t / (seconds * 0.4), 0, 1)
    mono = (0.6 * kick + bass + hats + snare + pad + arp + pluck) * swell
    stereo = np.stack([mono + 0.3 * pad, mono - 0.3 * pad], axis=1)
    return 0.85 * stereo / np.abs(stereo).max()


class PacedModel(FilterBankModel):
    """FilterBankModel with a settable delay per call (the run's pace)."""

    def __init__(self):
        super().__init__()
        self.delay = 0.0

    def separate(self, mixture, instruments, preset, generator, cancel):
        threading.Event().wait(self.delay)
        return super().separate(mixture, instruments, preset, generator, cancel)


def main() -> int:
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="stemforge-shot-"))
    tracks = [("Night Drive.wav", 24.0, "PCM_24"), ("Corrupt Export.wav", 0, None),
              ("Bassline Sketch.flac", 30.0, "PCM_16"), ("Live Take 3.wav", 18.0, "PCM_16")]
    paths = []
    for index, (name, seconds, subtype) in enumerate(tracks):
        path = work / "session" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if seconds:
            sf.write(str(path), groove(seconds, seed=index), 44100, subtype=subtype)
        else:
            path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 40)
        paths.append(path)

    app = QApplication([sys.argv[0]])
    apply_theme(app)
    model = PacedModel()
    window = MainWindow(model_loader=lambda spec, device: model,
                        model_info=ModelInfo.from_model(model),
                        settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat),
                        devices={"auto": True, "cpu": True, "cuda": False, "mps": False})
    window.options_panel.set_options(replace(window.current_options(), preset="draft",
                                             out_dir=work / "stems"))
    window.resize(1320, 860)
    window.show()
    window.add_paths(paths)
    third = window.queue.items[2]

    def on_finished(item_id, result):
        if item_id == window.queue.items[0].id:
            model.delay = 0.35  # slow down from the second file on: the shot is mid-run
            window.table.select_row(0)

    window.run_control.engine.worker.file_finished.connect(on_finished)
    state = {"shot": False}

    def poll():
        lanes = window.preview.waveforms.lanes
        ready = (len(lanes) == 6 and all(lane.envelope is not None for lane in lanes.values())
                 and third.fraction > 0.3)
        if ready and not state["shot"]:
            state["shot"] = True
            window.preview.player.seek(7.5)
            window.preview.waveforms.set_playhead(7.5)
            window.preview.mixer.set_soloed("bass", True)
            window.preview.mixer.set_soloed("drums", True)
            QTimer.singleShot(600, shoot)  # let the run label show the estimate

    def shoot():
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUTPUT))
        print(f"saved {OUTPUT} at {third.fraction:.0%} of the third file: {window.run_control.run_label.text()}")
        window.run_control.cancel()
        window.run_control.engine.worker.batch_finished.connect(lambda _: app.quit())

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    QTimer.singleShot(120_000, app.quit)  # never hang
    window.run_control.start()
    app.exec()
    window.close()
    return 0 if state["shot"] else 1


if __name__ == "__main__":
    sys.exit(main())
