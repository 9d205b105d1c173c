"""``stemforge card``: write a bundle's model card from measured results, never by hand.

::

    stemforge card --model BUNDLE_DIR --eval REPORT_DIR [--eval REPORT_DIR ...]
                   [--sweep SWEEP_DIR] [--bench BENCH.json] [--runs RUN ...]
                   [--full-band REPORT_DIR]

Reads what the other commands wrote and puts it next to the weights:

- ``MODEL_CARD.md``: training data and time per stage (from the manifest the export
  wrote), the quality tables (from ``stemforge eval``'s ``report.json``: one section per
  evaluated split, in the order given; reports of the same split are merged row by row,
  e.g. the presets of the shipped bundle and the teacher of a bundle that includes it),
  the goals checked against each split's figures (:mod:`core.evaluation.goals`), the sigma_max sweep
  (from ``stemforge sweep``), the speed table (from ``stemforge bench --out``), the
  limitations, and the command sequence that regenerates the bundle;
- ``training-curves.png``: loss and validation SI-SDRi against step for each run given
  with ``--runs`` (their ``log.jsonl``);
- ``sweep.png``: a copy of the sweep plot.

With ``--full-band`` (a ``stemforge eval --full-band`` folder, repeatable) the card also
shows the full-band and high-band tables of each and the goals of issue #15 for the rows
of the default high-band mode (:func:`core.evaluation.goals.full_band_goals`).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

from core.errors import ConfigError
from core.evaluation.goals import check_goals, full_band_goals, goals_table
from core.evaluation.modes import NO_MASK_SUFFIX
from core.model import steps_label, withheld_presets

CARD_FILE = "MODEL_CARD.md"
CURVES_FILE = "training-curves.png"
SWEEP_FILE = "sweep.png"
STAGE_NAMES = {"extractor": "extractor", "diffusion": "teacher", "distill": "student"}
STEM_COLUMNS = ("bass", "drums", "guitar", "piano", "All")

LIMITATIONS = """\
- **22.05 kHz model band.** The networks see audio resampled to 22 050 Hz. Above 11 kHz
  the stems get a share of the input's high band judged from their own content just below
  the edge, by a small trained mask (`--high-band learned`, the default) or a rule
  (`--high-band assign`), not by the networks; with `--high-band residual` the residual
  stem (mix minus stems) keeps all of it. Either way the stems plus the residual rebuild
  the input exactly.
- **Each channel is separated as mono.** Stereo files are split channel by channel; the
  stereo image of each stem comes from the mix, not from a stereo model.
- **Synthetic training data.** The songs are rendered from MIDI parts: recorded instrument
  samples and General MIDI soundfonts, through a production chain (see Training). The only
  voices are synthesised (espeak-ng syllables set to a melody by PSOLA, where the set has
  non-target parts); no live performances, no real rooms or amplifiers: real recordings separate less
  cleanly than the synthetic figures above, and instruments unlike any in training
  (the held-out-timbre split) much less cleanly.
- **Small CPU budget.** Each network has 6.2 M parameters and trained for hours at most on
  2 CPU cores; the paper's model has 405 M parameters and trained for days on GPUs. Expect
  audible bleed between stems."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stemforge card``."""
    parser.add_argument("--model", required=True, type=Path, metavar="BUNDLE_DIR", help="the bundle folder")
    parser.add_argument("--eval", dest="evals", action="append", type=Path, required=True, metavar="REPORT_DIR",
                        help="a 'stemforge eval --out' folder (repeat: one section per split, in this order; "
                             "reports of one split merge row by row, the first report wins)")
    parser.add_argument("--sweep", type=Path, default=None, metavar="SWEEP_DIR", help="a 'stemforge sweep --out' folder")
    parser.add_argument("--bench", type=Path, default=None, metavar="BENCH.json",
                        help="the JSON that 'stemforge bench --out FILE.md' wrote next to FILE.md")
    parser.add_argument("--runs", nargs="*", type=Path, default=[], metavar="RUN",
                        help="training run folders whose log.jsonl gives the training curves")
    parser.add_argument("--data-description", default=None, metavar="TEXT",
                        help="what the training data was (default: the dataset path the export recorded)")
    parser.add_argument("--notes", type=Path, default=None, metavar="FILE",
                        help="a Markdown file of remarks on this model, shown as the card's Notes section")
    parser.add_argument("--full-band", action="append", type=Path, default=None, metavar="REPORT_DIR",
                        help="a 'stemforge eval --full-band --out' folder: adds a full-band section (repeatable)")
    parser.add_argument("--recipe", type=Path, default=None, metavar="FILE",
                        help="a text file with the commands that regenerate the bundle (shown verbatim)")


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the {what} ({error})") from None


def group_reports(reports: list[dict]) -> list[list[dict]]:
    """Reports grouped by evaluated set (``data`` and ``split``), groups in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for report in reports:
        groups.setdefault((report.get("data"), report.get("split")), []).append(report)
    return list(groups.values())


def merge_reports(reports: list[dict]) -> list[dict]:
    """The rows of several ``report.json``, in order, a name appearing once (first wins)."""
    rows, seen = [], set()
    for report in reports:
        for row in report["rows"]:
            if row["name"] not in seen:
                seen.add(row["name"])
                rows.append(row)
    return rows


def _cell(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def quality_table(rows: list[dict], convention: str, labels: dict[str, str]) -> str:
    """Markdown table of one convention (``active`` or ``paper``) over the merged rows."""
    lines = ["| SI-SDRi (dB) | " + " | ".join(STEM_COLUMNS) + " |", "|---|" + "---:|" * len(STEM_COLUMNS)]
    for row in rows:
        values = row[convention]
        lines.append(f"| {labels.get(row['name'], row['name'])} | "
                     + " | ".join(_cell(values.get(c)) for c in STEM_COLUMNS) + " |")
    return "\n".join(lines)


def row_labels(rows: list[dict], presets: dict) -> dict[str, str]:
    """Readable row names: ``best (consistency, 4 steps, sigma_max 0.1)``."""
    labels = {}
    for row in rows:
        name = row["name"]
        if name.startswith("teacher:"):
            steps = int(name.split(":")[1])
            sigma = (row.get("preset") or {}).get("sigma_max")
            labels[name] = (f"teacher (Euler, {steps} step{'s' * (steps > 1)}"
                            + (f", sigma_max {sigma:.3g})" if sigma else ")"))
        elif name in presets:
            preset = presets[name]
            steps, views = int(preset["steps"]), int(preset.get("views", 1))
            alone = "" if preset.get("mask") else " alone"
            labels[name] = (f"{name} (extractor{alone})" if steps == 0 else
                            f"{name} (consistency, {steps} step{'s' * (steps > 1)}, sigma_max {preset['sigma_max']:.3g})")
            if views > 1:
                labels[name] = labels[name][:-1] + f", {views} views: (f(x) - f(-x)) / 2)"
            if preset.get("mask"):
                labels[name] = labels[name][:-1] + ", ratio mask)"
        elif name.endswith(NO_MASK_SUFFIX) and name[: -len(NO_MASK_SUFFIX)] in presets:
            labels[name] = f"{name[: -len(NO_MASK_SUFFIX)]} without the ratio mask"
    return labels


def _quality_section(reports: list[dict], presets: dict) -> list[str]:
    """Tables and goals of one evaluated split (its reports merged row by row)."""
    rows = merge_reports(reports)
    labels = row_labels(rows, presets)
    first = reports[0]
    return ["", f"### `{first['split']}` split of `{first['data']}`", "",
            f"`stemforge eval`: {first['chunks']} chunks of {first['protocol']['chunk_samples']} samples, "
            f"{first['windows_kept']} kept 4 s windows, seed {first['seed']}; measured {first['date']} on "
            f"{first['machine']}.", "",
            "Active stems (windows where the stem plays):", "", quality_table(rows, "active", labels), "",
            "Paper convention (silent references included):", "", quality_table(rows, "paper", labels), "",
            "Goals (active stems):", "", *goals_table(check_goals(rows, presets)),
            *_leakage_section(first)]


def architecture_kind(manifest: dict) -> str:
    """What the bundle's extractor is, in words, from its manifest's architecture entry."""
    entry = manifest.get("architecture", {})
    if "bandsplit" in entry:
        return "band-split mask estimator (STFT bands, sequence modelling across time and bands)"
    unet = entry.get("unet", {})
    levels = unet.get("multipliers")
    depth = len(levels) if isinstance(levels, (list, tuple)) else None
    return f"1D waveform U-Net{f', {depth} levels' if depth else ''}"


def _leakage_section(report: dict) -> list[str]:
    """The leakage tables of one report (written when the mixtures held ``other``)."""
    leakage = report.get("leakage") or {}
    if not leakage:
        return []
    from core.evaluation.leakage import SOURCES, UNEXPLAINED

    lines = ["", "Leakage (least-squares share of each estimate's energy from each true stem and from "
             "`other`, the set's vocals, strings, synths...; last column: median level of an estimate, dB "
             "re the mix, in windows where its source is silent):", ""]
    for name, table in leakage.items():
        lines += [f"`{name}`:", "", "| estimate | " + " | ".join((*SOURCES, UNEXPLAINED)) + " | silent-source level |",
                  "|---" * (len(SOURCES) + 3) + "|"]
        for stem, row in table["shares"].items():
            cells = " | ".join(_cell(row.get(source)) for source in (*SOURCES, UNEXPLAINED))
            level = table["silent_source_level"][stem]
            shown = "n/a" if level["median_db"] is None else f"{level['median_db']:.1f} ({level['windows']})"
            lines.append(f"| {stem} | {cells} | {shown} |")
        lines.append("")
    return lines


def _full_band_section(report: dict) -> list[str]:
    from core.evaluation.full_band import full_band_table

    lines = [f"`stemforge eval --full-band` on `{report['data']}` split(s) `{report['split']}` at {report['rate']} Hz: "
             f"{report['chunks']} chunks, {report['windows_kept']} kept 4 s windows, seed {report['seed']}; measured "
             f"{report['date']}. SI-SDRi on active stems. `MODE/learned`, `MODE/assign` and `MODE/residual` are the stems "
             "`stemforge separate --high-band` writes; the model band row is the model's own 22.05 kHz output; the "
             f"high band is the content above {report['edge_hz']:g} Hz; the oracle takes the true stems' "
             "magnitudes above the edge.", ""]
    for band in ("model band", "full band", "high band"):
        lines += [full_band_table(report, band), ""]
    return lines + goals_table(full_band_goals(report))


def panel_title(stage: str, run: Path) -> str:
    """A training-curve panel's title: the stage and the run folder's name (several parts of
    one stage side by side are told apart)."""
    return f"{stage}: {Path(run).name}"


def plot_curves(runs: list[Path], path: Path, last_steps: dict[Path, int] | None = None) -> Path | None:
    """One panel per run: training loss (log scale, left) and validation SI-SDRi (right),
    up to ``last_steps[run]`` where given (the step the bundle was exported at)."""
    from core.evaluation.sweep import import_matplotlib

    logs = []
    for run in runs:
        records = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
        last = (last_steps or {}).get(run)
        if last is not None:
            records = [r for r in records if r.get("step", 0) <= last]
        stage = json.loads((run / "config.json").read_text(encoding="utf-8")).get("stage", run.name)
        logs.append((panel_title(stage, run), records))
    if not logs:
        return None
    Figure, FigureCanvasAgg = import_matplotlib()
    figure = Figure(figsize=(5.0 * len(logs), 3.8), dpi=110)
    FigureCanvasAgg(figure)
    for index, (title, records) in enumerate(logs):
        axis = figure.add_subplot(1, len(logs), index + 1)
        train = [r for r in records if r.get("event") == "train" and "loss" in r]
        valid = [r for r in records if r.get("event") == "validation" and "val_si_sdri" in r]
        if train:
            axis.plot([r["step"] for r in train], [r["loss"] for r in train], color="tab:blue", lw=0.8)
            if all(r["loss"] > 0 for r in train):
                axis.set_yscale("log")
        axis.set_xlabel("step")
        axis.set_ylabel("training loss", color="tab:blue")
        axis.set_title(title)
        if valid:
            right = axis.twinx()
            right.plot([r["step"] for r in valid], [r["val_si_sdri"] for r in valid], "o-", color="tab:red", ms=3)
            right.set_ylabel("validation SI-SDRi (dB)", color="tab:red")
    figure.tight_layout()
    figure.savefig(path)
    return path


def _loss(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _manifest_stages(manifest: dict) -> dict:
    """The stages the export recorded in the manifest's ``training_data`` (name -> record)."""
    training = manifest.get("training_data") or {}
    return training.get("stages", {}) if isinstance(training, dict) else {}


def _exported_runs(manifest: dict) -> dict[Path, tuple[str, dict]]:
    """Resolved run folder -> (stage name, the manifest's record of it) for every run the
    bundle was exported from."""
    return {Path(stage["run"]).resolve(): (name, stage) for name, stage in _manifest_stages(manifest).items()
            if isinstance(stage, dict) and stage.get("run")}


def exported_steps(manifest: dict, runs: list[Path]) -> dict[Path, int]:
    """For each run folder the bundle was exported from, the step it was exported at (the
    manifest's ``training_data``): a run may have trained on since."""
    exported = _exported_runs(manifest)
    return {run: int(exported[Path(run).resolve()][1]["steps"]) for run in runs
            if Path(run).resolve() in exported and exported[Path(run).resolve()][1].get("steps") is not None}


def _training_section(manifest: dict, runs: list[Path], data_description: str | None) -> list[str]:
    """The dataset and one row per stage: for a run the bundle was exported from, the
    manifest's record of it (the exported step, even if the run trained on); for other
    runs given (e.g. a teacher the bundle leaves out), the run folder; without runs, the
    manifest alone."""
    training = manifest.get("training_data") or {}
    stages = _manifest_stages(manifest)
    if runs:
        from core.training.export import describe_stage
        from core.training.runs import open_run

        exported = _exported_runs(manifest)
        stages = {}
        for run in runs:
            if Path(run).resolve() in exported:
                name, stage = exported[Path(run).resolve()]
                stages[name] = stage
                continue
            finished = open_run(run)
            stages[STAGE_NAMES.get(finished.stage, finished.stage)] = describe_stage(finished)
    data = data_description or (training.get("data", "?") if isinstance(training, dict) else str(training))
    lines = [f"- data: {data}"]
    if stages:
        lines += ["", "| network | steps | minutes | batch x crop | optimiser, lr | final loss | last validation SI-SDRi (dB) |",
                  "|---|---:|---:|---|---|---:|---:|"]
        totals = []
        for name, stage in stages.items():
            history = stage_history(stage)
            for part, record in enumerate(history, 1):
                label = name if len(history) == 1 else f"{name}, part {part} of {len(history)}"
                lines.append(_stage_row(label, record, manifest.get("sample_rate", 22050)))
            if len(history) > 1:
                totals.append(f"- {name}: {len(history)} parts, each started from the previous part's weights "
                              f"(`--init-from`, a fresh optimiser): {sum(r.get('steps') or 0 for r in history)} "
                              f"steps and {sum(r.get('minutes') or 0 for r in history):.2f} minutes in all.")
        lines += ([""] + totals if totals else [])
        lines += _interpolation_lines(stages)
        lines += ["", "Validation SI-SDRi during training: 8 fixed 3 s crops of the validation split, EMA "
                      "weights; the teacher and the student are scored with their own validation sampler "
                      "(not the tuned presets), so only the trend within a stage is meaningful."]
    return lines


def _interpolation_lines(stages: dict) -> list[str]:
    """A line per stage exported part-way to other weights (``export --interpolate-with``)."""
    lines = []
    for name, stage in stages.items():
        blend = stage.get("interpolated_with") if isinstance(stage, dict) else None
        if not blend:
            continue
        weight = float(blend.get("run_weight", 1.0))
        source = blend.get("source_record") or {}
        what = f"{source.get('steps')} steps, {source.get('run', blend.get('source'))}" if source else blend.get("source")
        lines.append(f"- {name}: the bundle holds {weight:g} x the last part's weights + {1 - weight:g} x "
                     f"the weights of an earlier one ({what}): weight-space interpolation (WiSE-FT, "
                     f"`export --interpolate-with`), which keeps most of a fine-tune's gain and gives back "
                     f"part of what it cost on data it no longer saw.")
    return ([""] + lines) if lines else []


def stage_history(stage: dict) -> list[dict]:
    """A stage's record and those it started from (``started_from``, written by the export
    for ``--init-from`` runs), oldest first."""
    history = []
    while isinstance(stage, dict) and stage:
        history.append(stage)
        stage = stage.get("started_from")
    return history[::-1]


def _stage_row(label: str, stage: dict, sample_rate: int) -> str:
    loss = stage.get("final_losses", {}).get("loss")
    val = stage.get("validation", {}).get("val_si_sdri")
    crop = stage.get("segment_samples", 0) / sample_rate
    return (f"| {label} | {stage.get('steps')} | {stage.get('minutes')} | {stage.get('batch')} x {crop:.2f} s | "
            f"{stage.get('optimizer')}, {stage.get('lr')} | {_loss(loss)} | "
            f"{_cell(val) if val is not None else 'n/a'} |")


def _speed_section(bench: dict) -> list[str]:
    lines = [f"Measured {bench['date']} on {bench['machine']}; {bench['clip']['seconds']:g} s stereo "
             f"{bench['clip']['samplerate']} Hz clip, four stems + residual, file I/O included.", "",
             "| preset | steps | time (s) | real-time factor | / HTDemucs |", "|---|---:|---:|---:|---:|"]
    for row in bench["presets"]:
        ratio = row.get("vs_peer")
        steps = steps_label(int(row["steps"]), int(row.get("views", 1)), bool(row.get("mask")))
        lines.append(f"| {row['name']} | {steps} | {row['seconds']:.2f} | {row['rtf']:.3f} | "
                     f"{'-' if ratio is None else f'{ratio:.3f}x'} |")
    peer = bench.get("peer")
    if peer:
        lines.append(f"| {peer['name']} | - | {peer['seconds']:.2f} | {peer['rtf']:.3f} | 1.000x |")
    memory = bench.get("memory") or {}
    if memory.get("short") and memory.get("long"):
        short, long = memory["short"]["peak_mb"], memory["long"]["peak_mb"]
        lines += ["", f"Peak memory: {short:.0f} MB for a {bench['settings']['short_minutes']:g}-minute file, "
                      f"{long:.0f} MB for a {bench['settings']['long_minutes']:g}-minute file ({long / short:.2f}x)."]
    return lines


def _sweep_section(sweep: dict) -> list[str]:
    lines = [f"![SI-SDRi against sigma_max]({SWEEP_FILE})", "",
             f"Scored on {sweep['chunks']} chunks ({sweep['windows_kept']} windows) of the validation split; "
             f"SI-SDRi All, active stems{', every point ending with the ratio mask' if sweep.get('mask') else ''}. "
             f"{'Extractor + ratio mask (draft)' if sweep.get('mask') else 'Extractor alone'}: "
             f"{_cell(sweep.get('extractor'))} dB.", "",
             "| sampler | steps | best sigma_max | SI-SDRi at it (dB) |", "|---|---:|---:|---:|"]
    for sampler, curves in sweep["curves"].items():
        for steps, values in curves.items():
            points = [(g, v) for g, v in zip(sweep["grid"], values, strict=True) if v is not None]
            if points:
                sigma, value = max(points, key=lambda p: p[1])
                lines.append(f"| {sampler} | {steps} | {sigma:.3g} | {value:.2f} |")
    return lines


def write_card(bundle: Path, evals: list[Path], sweep_dir: Path | None = None, bench_file: Path | None = None,
               runs: list[Path] | tuple = (), recipe: Path | None = None,
               data_description: str | None = None, notes: Path | None = None,
               full_band: list[Path] | tuple = ()) -> Path:
    """Write ``MODEL_CARD.md`` (and the figures) into ``bundle``; returns the card's path.

    Raises:
        ConfigError: a result file is missing, unreadable or lacks a field the card needs.
    """
    try:
        return _write_card(bundle, evals, sweep_dir, bench_file, runs, recipe, data_description, notes,
                           full_band)
    except KeyError as error:
        raise ConfigError(f"cannot write the model card: a result file lacks the field {error} "
                          "(written by another version?)") from None


def _write_card(bundle, evals, sweep_dir, bench_file, runs, recipe, data_description, notes,
                full_band) -> Path:
    from core.bundle import describe_bundle, read_manifest

    info = describe_bundle(bundle)
    reports = [_read_json(Path(folder) / "report.json", "evaluation report") for folder in evals]
    presets = info["presets"]
    manifest = read_manifest(bundle)
    refined = "student" in info["networks"]
    method = ("a deterministic extractor, a diffusion teacher conditioned on it, and a consistency student "
              "distilled from the teacher" if refined else
              "this bundle ships the deterministic extractor alone (preset draft"
              + (", and fast: the extractor on the mix and its polarity inverse"
                 if any(int(p.get("views", 1)) > 1 for p in presets.values()) else "")
              + "); the refiners are not shipped because they do not beat it yet (see Notes)")
    if any(preset.get("mask") for preset in presets.values()):
        method += ("; presets marked ratio mask rebuild the stems from the mixture with masks of their own "
                   "magnitudes (core/METHOD.md section 5)")

    lines = [f"# Model card: {info['id']}", "",
             f"- weights: `{Path(bundle).name}/weights.safetensors`, {info['size_bytes'] / 1e6:.1f} MB, "
             f"sha256 `{info['sha256'][:16]}...`",
             f"- networks: {', '.join(info['networks'])}; {info['parameters'] / 1e6:.1f} M parameters in all; "
             f"architecture `{manifest['architecture'].get('name')}` ({architecture_kind(manifest)}), {info['sample_rate']} Hz mono, "
             f"segment {info['segment_samples']} samples",
             "- method: Karchkhadze, Izadi, Zhang 2024, \"Improving Source Extraction with Diffusion and "
             f"Consistency Models\": {method}", "",
             "## Presets", "",
             "| preset | network | steps | sigma_max | tuned on validation | gain over draft (dB, validation) | offered |",
             "|---|---|---:|---:|---|---:|---|"]
    withheld = withheld_presets({name: preset.get("gain_db") for name, preset in presets.items()})
    for name, preset in presets.items():
        network = "extractor" if int(preset["steps"]) == 0 else (
            "teacher" if preset.get("sampler") == "teacher" else "extractor + student")
        if int(preset.get("views", 1)) > 1:
            network += f", {int(preset['views'])} views: (f(x) - f(-x)) / 2"
        if preset.get("mask"):
            network += ", ratio mask"
        gain = "-" if preset.get("gain_db") is None else f"{float(preset['gain_db']):+.2f}"
        offered = f"no: {withheld[name]}" if name in withheld else "yes"
        lines.append(f"| {name} | {network} | {preset['steps']} | {preset['sigma_max']:.4g} | "
                     f"{'yes' if preset.get('tuned') else 'no'} | {gain} | {offered} |")
    lines += ["", "## Training", ""] + _training_section(manifest, [Path(r) for r in runs], data_description)
    if runs:
        run_paths = [Path(r) for r in runs]
        curves = plot_curves(run_paths, Path(bundle) / CURVES_FILE, exported_steps(manifest, run_paths))
        if curves is not None:
            lines += ["", f"![Training curves]({CURVES_FILE})"]
    elif (Path(bundle) / CURVES_FILE).is_file():  # re-measured later, without the runs: keep the figure
        lines += ["", f"![Training curves]({CURVES_FILE})", "",
                  "(drawn from the training runs' logs when the bundle was made)"]
    lines += ["", "## Quality", "", "`mixture` is the input itself (0 dB by definition); `oracle IRM` masks "
              "the mixture with the true stems (an upper reference)."]
    for group in group_reports(reports):
        lines += _quality_section(group, presets)
    if sweep_dir is not None:
        sweep = _read_json(Path(sweep_dir) / "sweep.json", "sweep results")
        shutil.copyfile(Path(sweep_dir) / "sweep.png", Path(bundle) / SWEEP_FILE)
        lines += ["", "## sigma_max sweep (the paper's Figure 2)", ""] + _sweep_section(sweep)
    if full_band:
        lines += ["", "## Full-band stems (above the model's band)"]
        for folder in full_band:
            report = _read_json(Path(folder) / "report.json", "full-band evaluation report")
            lines += [""] + _full_band_section(report)
    if bench_file is not None:
        lines += ["", "## Speed and memory", ""] + _speed_section(_read_json(Path(bench_file), "benchmark"))
    if notes is not None:
        lines += ["", "## Notes", "", Path(notes).read_text(encoding="utf-8").rstrip()]
    lines += ["", "## Limitations", "", LIMITATIONS]
    if recipe is not None:
        lines += ["", "## Regenerate this bundle from nothing", "", "```sh",
                  Path(recipe).read_text(encoding="utf-8").rstrip(), "```"]
    path = Path(bundle) / CARD_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(args: argparse.Namespace) -> None:
    path = write_card(args.model, args.evals, args.sweep, args.bench, args.runs, args.recipe,
                      args.data_description, args.notes, args.full_band)
    print(f"wrote {path}")
