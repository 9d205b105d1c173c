"""The one worker thread: loads the model and runs the engine, reporting through Qt signals.

The run bar (:mod:`desktop.run_control`) builds a :class:`BatchJob` and emits it to
:meth:`SeparationWorker.run` (a queued connection, so it runs in the worker's thread).
The worker calls :func:`core.jobs.run_batch` with a :class:`core.progress.CancelToken`
the run bar can set at any time; the engine checks it at every chunk and sampler step, so a
cancel takes effect within one chunk and the engine removes partial files.
Nothing here touches widgets; everything crosses threads as signals.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import StemforgeError
from core.jobs import FileResult, FileStatus, SeparationOptions
from core.model import StemModel
from core.progress import CancelToken

log = logging.getLogger(__name__)

ModelLoader = Callable[[str | None, str], StemModel]
"""``(model id or path, or None for the default; device name) -> StemModel``."""


def default_model_loader(spec: str | None, device: str) -> StemModel:
    """Any installed model, by id or path (:func:`core.models.registry.load_model`)."""
    # lazy: the window opens without the engine's model code
    from core.models.registry import load_model

    return load_model(spec, device)


@dataclass
class BatchJob:
    """One Start: which queue items, with what options, on which model."""

    item_ids: list[int]
    paths: list[Path]
    options: SeparationOptions
    model_spec: str | None
    cancel: CancelToken = field(default_factory=CancelToken)


class SeparationWorker(QObject):
    """Lives in its own QThread; one batch at a time.

    Signals:
        status(str): what it is doing (loading the model, ...).
        model_ready(str): model id, just before the first file starts.
        file_progress(int, float, str): queue item id, fraction in [0, 1], message.
        file_finished(int, object): queue item id, :class:`core.jobs.FileResult`.
        batch_finished(object): list of FileResult.
        batch_failed(str, str): a readable message and the details (traceback) when the
            whole batch could not run (no model, bad options, a bug).
    """

    status = Signal(str)
    model_ready = Signal(str)
    file_progress = Signal(int, float, str)
    file_finished = Signal(int, object)
    batch_finished = Signal(object)
    batch_failed = Signal(str, str)

    def __init__(self, model_loader: ModelLoader | None = None):
        super().__init__()
        self._loader = model_loader or default_model_loader
        self._model: StemModel | None = None
        self._model_key: tuple[str | None, str] | None = None

    def _load(self, spec: str | None, device: str) -> StemModel:
        key = (spec, device)
        if self._model is None or self._model_key != key:
            self._model = None
            self.status.emit("Loading the model…")
            started = time.perf_counter()
            self._model = self._loader(spec, device)
            self._model_key = key
            log.info("model %s loaded on %s in %.1f s", self._model.model_id, self._model.device,
                     time.perf_counter() - started)
        return self._model

    @Slot(object)
    def run(self, job: BatchJob) -> None:
        from core.jobs import run_batch  # the engine is imported in the worker's thread

        try:
            model = self._load(job.model_spec, job.options.device)
            if job.cancel.cancelled:
                results = [FileResult(p, FileStatus.CANCELLED, f"{p}: cancelled before it started") for p in job.paths]
                for item_id, result in zip(job.item_ids, results, strict=True):
                    self.file_finished.emit(item_id, result)
                self.batch_finished.emit(results)
                return
            self.model_ready.emit(model.model_id)
            finished: list[FileResult] = []

            def on_result(result: FileResult) -> None:  # run_batch reports files in order
                self.file_finished.emit(job.item_ids[len(finished)], result)
                finished.append(result)

            results = run_batch(
                job.paths, model, job.options,
                on_progress=lambda index, fraction, message: self.file_progress.emit(
                    job.item_ids[index], fraction, message),
                on_result=on_result,
                cancel=job.cancel,
            )
        except StemforgeError as error:
            log.error("%s", error)
            self.batch_failed.emit(str(error), "")
            return
        except Exception as error:  # a bug: report it readably, keep the app alive
            details = traceback.format_exc()
            log.error("unexpected error in the worker: %s\n%s", error, details)
            self.batch_failed.emit(f"Unexpected error: {type(error).__name__}: {error}", details)
            return
        self.batch_finished.emit(results)


class WorkerThread:
    """Owns the QThread and the worker moved into it."""

    def __init__(self, model_loader: ModelLoader | None = None):
        self.thread = QThread()
        self.thread.setObjectName("stemforge-engine")
        self.worker = SeparationWorker(model_loader)
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Quit the thread once the current batch returns (cancel it first)."""
        self.thread.quit()
        return self.thread.wait(timeout_ms)
