"""Speed and memory of Stemforge, and its speed against HTDemucs, in one run.

On one synthetic stereo 44.1 kHz clip (:mod:`core.benchmark.clip`):

1. **network passes**: the time of one extractor pass and one student pass on the
   batch the pipeline sends (``max_positions`` segments x channels, times four stems):
   ``t(draft)`` is the extractor pass, ``t(fast) - t(draft)`` the student pass;
2. **real-time factor** of the whole pipeline per preset, four stems + residual, file
   I/O included (:func:`core.jobs.separate_file`): RTF = processing time / audio time;
3. **the peer**: the same file through HTDemucs (random weights, :mod:`core.benchmark.peer`),
   and the ratio Stemforge time / HTDemucs time per preset;
4. **peak memory** of a short (1 min) and a long (10 min) input, each in a fresh
   process (:mod:`core.benchmark.memory`): memory must not grow with duration.

The goals of issue 5 (2 CPU cores, four stems, stereo 44.1 kHz) are checked against
the measured figures: fast <= 0.25x, balanced <= 0.5x, best <= 0.75x the HTDemucs time;
peak memory for 10 minutes <= 1.5 GB and <= 1.3x the 1-minute figure.

An imported model (a Demucs file, :mod:`core.benchmark.imported`) is compared with its own
networks run by the demucs package (``apply_model``, shifts 0): its ``draft`` through
Stemforge at most 1.1x that time (issue 29), its memory growth as above, and the peak memory
of ``apply_model`` on the same inputs beside Stemforge's. Its presets that wait for
``stemforge tune`` are not timed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

import core
from core.benchmark import imported
from core.benchmark.clip import clip_block, write_clip
from core.benchmark.memory import MemoryFigure, measure_in_subprocess
from core.benchmark.peer import INSTALL_HINT, PeerUnavailable, load_htdemucs, run_htdemucs
from core.errors import StemforgeError
from core.evaluation.report import machine_description
from core.jobs import FileStatus, SeparationOptions, separate_file
from core.model import PRESET_ORDER, StemModel, default_preset, steps_label
from core.pipeline import StreamSettings
from core.progress import NEVER_CANCELLED, ProgressCallback, no_progress

SPEED_GOALS = {"fast": 0.25, "balanced": 0.5, "best": 0.75}
"""Preset -> most Stemforge time / HTDemucs time allowed."""
MEMORY_LIMIT_MB = 1500.0
"""Peak memory allowed for the long input (1.5 GB)."""
MEMORY_GROWTH_LIMIT = 1.3
"""Most long / short peak-memory ratio allowed."""


@dataclass(frozen=True)
class BenchSettings:
    """What to measure.

    Attributes:
        seconds: length of the speed clip.
        short_minutes, long_minutes: inputs of the memory measurement (0 skips it).
        samplerate, channels: format of the clips (44.1 kHz stereo, 16-bit).
        memory_preset: preset of the memory runs (a refining one: it keeps the extractor's
            activations alive during the refinement, the pipeline's largest footprint); None:
            ``fast`` when the model has it, else the model's default preset.
        skip_peer: do not run HTDemucs.
        repeats: timings of the network passes (the fastest is reported).
        device: where Stemforge runs.
    """

    seconds: float = 30.0
    short_minutes: float = 1.0
    long_minutes: float = 10.0
    samplerate: int = 44100
    channels: int = 2
    memory_preset: str | None = None
    skip_peer: bool = False
    repeats: int = 3
    device: str = "cpu"


DEFAULT_SETTINGS = BenchSettings()


@dataclass
class PresetTiming:
    """One preset on the clip: wall time, CPU time of this process (all threads), RTF, and
    wall-time ratio to HTDemucs. CPU time is less disturbed by other work on the machine."""

    name: str
    steps: int
    seconds: float
    rtf: float
    vs_peer: float | None = None
    cpu_seconds: float | None = None
    views: int = 1
    mask: bool = False

    def steps_label(self) -> str:
        """:func:`core.model.steps_label` of this preset."""
        return steps_label(self.steps, self.views, self.mask)


@dataclass
class PassTiming:
    segments: int
    stems: int
    segment_samples: int
    extractor_ms: float
    student_ms: float | None


@dataclass
class Goal:
    name: str
    target: str
    measured: str
    passed: bool | None  # None: not measured
    note: str = ""


@dataclass
class BenchResult:
    settings: BenchSettings
    context: dict
    presets: list[PresetTiming] = field(default_factory=list)
    passes: PassTiming | None = None
    peer_seconds: float | None = None
    peer_cpu_seconds: float | None = None
    peer_rtf: float | None = None
    peer_note: str = ""
    peer_parameters: int | None = None
    memory: dict[str, MemoryFigure] = field(default_factory=dict)
    memory_note: str = ""
    peer_name: str = "HTDemucs (random weights)"
    peer_memory: dict[str, MemoryFigure] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "settings": asdict(self.settings),
            **self.context,
            "presets": [asdict(p) for p in self.presets],
            "passes": None if self.passes is None else asdict(self.passes),
            "peer": {"name": self.peer_name, "seconds": self.peer_seconds,
                     "cpu_seconds": self.peer_cpu_seconds, "rtf": self.peer_rtf,
                     "parameters": self.peer_parameters, "note": self.peer_note,
                     "memory": {label: asdict(figure) for label, figure in self.peer_memory.items()}},
            "memory": {label: asdict(figure) for label, figure in self.memory.items()},
            "memory_note": self.memory_note,
            "goals": [asdict(g) for g in self.goals],
        }


def count_parameters(model: StemModel) -> int | None:
    """Parameters over the model's networks (None when the model does not expose them)."""
    networks = getattr(model, "networks", None)
    if networks is None:
        return None
    return sum(p.numel() for net in networks().values() for p in net.parameters())


def _best_seconds(function, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls after one warm-up call (first-call allocations and
    kernel selection are not the steady state; the minimum is the figure least disturbed by
    other work on the machine, as ``timeit`` recommends)."""
    function()
    times = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def time_network_passes(model: StemModel, channels: int, repeats: int) -> PassTiming:
    """Extractor and student pass times on one batch as the pipeline sends it (a stereo
    model: ``max_positions`` channel pairs)."""
    stereo = getattr(model, "channels", 1) == 2
    segments = StreamSettings().max_positions * (1 if stereo else channels)
    length = model.segment_samples
    audio = clip_block(0, segments * length * (2 if stereo else 1), model.sample_rate, 1)[:, 0]
    mixture = torch.from_numpy(audio.reshape((segments, 2, length) if stereo else (segments, length))).to(model.device)
    stems = model.instruments

    def run(preset_name: str):
        def call() -> None:
            generator = torch.Generator().manual_seed(0)
            with torch.inference_mode():
                model.separate(mixture, stems, model.presets[preset_name], generator, NEVER_CANCELLED)
        return call

    extractor = _best_seconds(run("draft"), repeats)
    student = None
    refining = [p for p in model.presets.values() if p.steps == 1 and p.sampler == "consistency"]
    if refining:
        student = max(_best_seconds(run(refining[0].name), repeats) - extractor, 0.0) * 1000
    return PassTiming(segments, len(stems), length, extractor * 1000, student)


def _load_average() -> float | None:
    """The 1-minute load average (other work on the machine slows every figure down)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def check_goals(result: BenchResult) -> list[Goal]:
    """Each goal of issue 5 against the measured figures: pass, miss (and by how much), or
    not measured (peer skipped, memory skipped)."""
    goals = []
    by_name = {p.name: p for p in result.presets}
    speed_goals = {"draft": imported.SPEED_GOAL} if result.peer_name.startswith("apply_model") else SPEED_GOALS
    peer = result.peer_name.split(" (")[0]  # HTDemucs, apply_model
    for name, limit in speed_goals.items():
        timing = by_name.get(name)
        if timing is None or timing.vs_peer is None:
            why = "peer not run" if result.peer_seconds is None else f"no {name} preset"
            goals.append(Goal(f"{name} vs {peer}", f"<= {limit:.2f}x", "n/a", None, why))
            continue
        passed = timing.vs_peer <= limit
        note = "" if passed else f"{timing.vs_peer / limit:.2f}x over the goal"
        goals.append(Goal(f"{name} vs {peer}", f"<= {limit:.2f}x", f"{timing.vs_peer:.3f}x", passed, note))
    long_label, short_label = "long", "short"
    if long_label in result.memory and short_label in result.memory:
        long, short = result.memory[long_label], result.memory[short_label]
        minutes = result.settings.long_minutes
        passed = long.peak_mb <= MEMORY_LIMIT_MB
        goals.append(Goal(f"peak memory, {minutes:g} min input", f"<= {MEMORY_LIMIT_MB:.0f} MB",
                          f"{long.peak_mb:.0f} MB", passed,
                          "" if passed else f"{long.peak_mb - MEMORY_LIMIT_MB:.0f} MB over"))
        ratio = long.peak_mb / short.peak_mb
        passed = ratio <= MEMORY_GROWTH_LIMIT
        goals.append(Goal(f"memory growth {minutes:g} min / {result.settings.short_minutes:g} min",
                          f"<= {MEMORY_GROWTH_LIMIT:.2f}x", f"{ratio:.3f}x", passed,
                          "" if passed else f"{ratio / MEMORY_GROWTH_LIMIT:.2f}x over the goal"))
    else:
        goals.append(Goal("peak memory", f"<= {MEMORY_LIMIT_MB:.0f} MB and <= {MEMORY_GROWTH_LIMIT}x", "n/a",
                          None, result.memory_note or "not measured"))
    return goals


def run_bench(
    model: StemModel,
    model_spec: str | None,
    settings: BenchSettings = DEFAULT_SETTINGS,
    workdir: Path | None = None,
    progress: ProgressCallback = no_progress,
) -> BenchResult:
    """Measure everything in one run (see the module docstring).

    Args:
        model: the loaded model (speed figures).
        model_spec: how to load it again in a fresh process (memory figures).
        workdir: where clips and stems go (default: a temporary folder, removed after).
    """
    context = {
        "stemforge_version": core.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(str(model.device)),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": _load_average(),
        "model": {"id": model.model_id, "spec": model_spec, "sha256": model.sha256,
                  "parameters": count_parameters(model), "segment_samples": model.segment_samples,
                  "sample_rate": model.sample_rate},
        "clip": {"seconds": settings.seconds, "samplerate": settings.samplerate, "channels": settings.channels,
                 "subtype": "PCM_16", "stems": list(model.instruments), "residual": True},
    }
    offered = [name for name in PRESET_ORDER if name in model.presets and not (
        model.presets[name].measure_first and model.presets[name].gain_db is None)]
    if settings.memory_preset is None:
        settings = replace(settings, memory_preset="fast" if "fast" in offered else default_preset(model.presets))
    result = BenchResult(settings, context)
    if imported.is_imported(model):
        result.peer_name = "apply_model (the same networks)"
    with tempfile.TemporaryDirectory(prefix="stemforge-bench-", dir=workdir) as temporary:
        folder = Path(temporary)
        clip = write_clip(folder / "clip.wav", settings.seconds, settings.samplerate, settings.channels)
        progress(0.02, "timing network passes")
        result.passes = time_network_passes(model, settings.channels, settings.repeats)
        names = offered
        for index, name in enumerate(names):
            progress(0.05 + 0.35 * index / len(names), f"separating the clip: {name}")
            options = SeparationOptions(out_dir=folder / "stems" / name, preset=name, device=settings.device,
                                        overwrite=True, stems=tuple(model.instruments))
            started, cpu_started = time.perf_counter(), time.process_time()
            outcome = separate_file(clip, model, options)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if outcome.status is not FileStatus.DONE:
                raise StemforgeError(f"benchmark separation with {name} failed: {outcome.message}")
            result.presets.append(PresetTiming(name, model.presets[name].steps, seconds, seconds / settings.seconds,
                                               cpu_seconds=cpu, views=model.presets[name].views,
                                               mask=model.presets[name].mask))
        if settings.skip_peer:
            result.peer_note = f"skipped (--skip-peer); install the peer with: {INSTALL_HINT}"
        elif imported.is_imported(model):
            progress(0.4, "the same networks through demucs' apply_model")
            cpu_started = time.process_time()
            result.peer_seconds = imported.run_apply_model(model, clip, folder / "peer")
            result.peer_cpu_seconds = time.process_time() - cpu_started
            result.peer_rtf = result.peer_seconds / settings.seconds
            result.peer_parameters = count_parameters(model)
            result.peer_note = ("demucs.apply.apply_model(model, mix, shifts=0, split=True, overlap=0.25) on the "
                                "same networks, the file read and every stem written")
            for timing in result.presets:
                timing.vs_peer = timing.seconds / result.peer_seconds
        else:
            progress(0.4, "HTDemucs (random weights) on the clip")
            try:
                peer = load_htdemucs(settings.samplerate, settings.channels)
                warmup = write_clip(folder / "warmup.wav", 1.0, settings.samplerate, settings.channels)
                run_htdemucs(peer, warmup, folder / "peer-warmup")
                cpu_started = time.process_time()
                result.peer_seconds = run_htdemucs(peer, clip, folder / "peer")
                result.peer_cpu_seconds = time.process_time() - cpu_started
                result.peer_rtf = result.peer_seconds / settings.seconds
                result.peer_parameters = peer.parameters
                result.peer_note = (f"demucs {peer.version}, HTDemucs 4 sources, segment 7.8 s, "
                                    "apply_model shifts=1 overlap=0.25, random weights")
                for timing in result.presets:
                    timing.vs_peer = timing.seconds / result.peer_seconds
            except PeerUnavailable as error:
                result.peer_note = f"skipped: {error}"
        if settings.long_minutes > 0 and settings.short_minutes > 0:
            spec = model_spec
            for fraction, (label, minutes) in zip((0.6, 0.7), (("short", settings.short_minutes),
                                                                ("long", settings.long_minutes)), strict=True):
                progress(fraction, f"peak memory, {minutes:g} min input (fresh process)")
                path = write_clip(folder / f"{label}.wav", minutes * 60, settings.samplerate, settings.channels)
                result.memory[label] = measure_in_subprocess(
                    spec, path, folder / "stems" / label, settings.memory_preset, settings.device,
                    threads=torch.get_num_threads())
                if imported.is_imported(model) and not settings.skip_peer:
                    progress(fraction + 0.05, f"apply_model's peak memory, {minutes:g} min input (fresh process)")
                    result.peer_memory[label] = imported.measure_apply_model_in_subprocess(
                        spec, path, folder / "peer" / label, threads=torch.get_num_threads())
                path.unlink()
        else:
            result.memory_note = "skipped (--long-minutes 0)"
    result.context["load_average_after"] = _load_average()
    result.goals = check_goals(result)
    progress(1.0, "benchmark done")
    return result


def _status(goal: Goal) -> str:
    if goal.passed is None:
        return "not measured"
    return "pass" if goal.passed else "MISS"


def markdown_bench(result: BenchResult) -> str:
    """The benchmark as Markdown: context, speed, passes, memory, goals."""
    s, c = result.settings, result.context
    model = c["model"]
    parameters = f"{model['parameters'] / 1e6:.2f} M parameters" if model["parameters"] else "parameters n/a"
    lines = [
        f"# Stemforge benchmark ({c['date']})",
        "",
        f"- machine: {c['machine']} ({c['cpu_count']} CPUs visible; load average "
        f"{c.get('load_average_before')} before, {c.get('load_average_after')} after: other work slows every figure)",
        f"- model: `{model['id']}` ({parameters}, segment {model['segment_samples']} samples "
        f"= {model['segment_samples'] / model['sample_rate']:.2f} s at {model['sample_rate']} Hz)",
        f"- clip: {s.seconds:g} s synthetic music, stereo {s.samplerate} Hz 16-bit WAV; four stems + residual "
        "written; times include reading and writing the files",
        "",
        "## Speed",
        "",
        "| preset | steps | time (s) | real-time factor | / peer | CPU time (s) | / peer (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for timing in result.presets:
        ratio = "n/a" if timing.vs_peer is None else f"{timing.vs_peer:.3f}x"
        cpu_ratio = ("n/a" if result.peer_cpu_seconds is None or timing.cpu_seconds is None
                     else f"{timing.cpu_seconds / result.peer_cpu_seconds:.3f}x")
        cpu = "n/a" if timing.cpu_seconds is None else f"{timing.cpu_seconds:.1f}"
        lines.append(f"| {timing.name} | {timing.steps_label()} | {timing.seconds:.2f} | {timing.rtf:.3f} | {ratio} "
                     f"| {cpu} | {cpu_ratio} |")
    if result.peer_seconds is not None:
        lines.append(f"| {result.peer_name} | - | {result.peer_seconds:.2f} | {result.peer_rtf:.3f} | 1.000x "
                     f"| {result.peer_cpu_seconds:.1f} | 1.000x |")
    lines += ["", f"Peer: {result.peer_note}", ""]
    if result.passes is not None:
        p = result.passes
        pairs = p.segments * p.stems
        audio = p.segments * p.segment_samples / model["sample_rate"]
        student = "n/a" if p.student_ms is None else f"{p.student_ms:.1f}"
        lines += [
            "## Network passes",
            "",
            f"One batch as the pipeline sends it: {p.segments} segments x {p.stems} stems = {pairs} "
            f"(segment, label) pairs of {p.segment_samples} samples ({audio:.1f} s of mono audio per stem).",
            "",
            "| pass | ms per batch | ms per second of audio and stem |",
            "|---|---:|---:|",
            f"| extractor | {p.extractor_ms:.1f} | {p.extractor_ms / (audio * p.stems):.2f} |",
            f"| student (one consistency step) | {student} | "
            + ("n/a" if p.student_ms is None else f"{p.student_ms / (audio * p.stems):.2f}") + " |",
            "",
        ]
    lines += ["## Peak memory (fresh process per input, preset " + s.memory_preset + ")", ""]
    if result.memory:
        lines += ["| input | peak RSS (MB) | after loading the model (MB) | time (s) |", "|---|---:|---:|---:|"]
        for label, minutes in (("short", s.short_minutes), ("long", s.long_minutes)):
            if label in result.memory:
                m = result.memory[label]
                lines.append(f"| {minutes:g} min | {m.peak_mb:.0f} | {m.rss_after_load_mb:.0f} | {m.seconds:.1f} |")
            if label in result.peer_memory:
                m = result.peer_memory[label]
                lines.append(f"| {minutes:g} min, {result.peer_name} | {m.peak_mb:.0f} | {m.rss_after_load_mb:.0f} "
                             f"| {m.seconds:.1f} |")
        lines.append("")
    else:
        lines += [result.memory_note, ""]
    lines += ["## Goals (2 CPU cores, four stems, stereo 44.1 kHz)", "",
              "| goal | target | measured | status |", "|---|---|---:|---|"]
    for goal in result.goals:
        note = f" ({goal.note})" if goal.note and goal.passed is not None else ""
        lines.append(f"| {goal.name} | {goal.target} | {goal.measured} | {_status(goal)}{note} |")
    if result.memory and (s.long_minutes != 10.0 or s.short_minutes != 1.0):
        lines.append("")
        lines.append(f"Note: the memory goals are stated for 10 min vs 1 min; this run used "
                     f"{s.long_minutes:g} min vs {s.short_minutes:g} min.")
    return "\n".join(lines)


def write_bench(result: BenchResult, path: Path) -> tuple[Path, Path]:
    """Write the Markdown to ``path`` and the figures as JSON next to it (same name, .json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_bench(result) + "\n", encoding="utf-8")
    data_path = path.with_suffix(".json")
    data_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path, data_path
