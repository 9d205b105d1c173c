"""The quality goals a model card checks, each as ``(goal, measured, passed)``.

From one ``stemforge eval`` report's rows (active stems, SI-SDRi in dB):

- issue #13, the extractor: ``draft`` >= :data:`DRAFT_GOAL_DB` on "All" and every
  instrument >= :data:`INSTRUMENT_GOAL_DB`;
- issue #14, the presets: ``fast`` >= draft + :data:`FAST_GAIN_GOAL_DB`, ``best`` >=
  draft + :data:`BEST_GAIN_GOAL_DB`, and the paper's ordering: a teacher row beats draft
  by :data:`TIE_DB`, and consistency with 2 to 4 steps at least matches the teacher
  (within :data:`TIE_DB`).

From a ``stemforge eval --full-band`` report (issue #15, the rows of the default high-band
mode, ``MODE/learned``): the
drums' high band >= :data:`DRUMS_HIGH_BAND_GOAL_DB`, every stem's high band >= 0 dB, and
no stem's full-band figure below its model-band (22.05 kHz) figure.
"""

from __future__ import annotations

from core.instruments import DEFAULT_HIGH_BAND, INSTRUMENTS

DRAFT_GOAL_DB = 9.0
INSTRUMENT_GOAL_DB = 6.0
FAST_GAIN_GOAL_DB = 0.3
BEST_GAIN_GOAL_DB = 0.5
TIE_DB = 0.1
"""Differences smaller than this count as a tie (the figures move by a few hundredths of
a dB with the refiners' noise seed)."""
DRUMS_HIGH_BAND_GOAL_DB = 1.0

Goal = tuple[str, str, bool]


def check_goals(rows: list[dict], presets: dict) -> list[Goal]:
    """Goals of issues #13 and #14 from the active-stems figures of ``rows`` (one split).

    "Beats" needs a margin of at least :data:`TIE_DB`; "at least matches" passes within it.
    A goal whose rows are missing (no student, no teacher row) is not listed.
    """
    active = {row["name"]: row["active"] for row in rows}
    score = {name: figures.get("All") for name, figures in active.items()}
    goals: list[Goal] = []
    draft = score.get("draft")
    if draft is not None:
        goals.append((f"draft >= {DRAFT_GOAL_DB:g} dB (All)", f"{draft:.2f} dB", draft >= DRAFT_GOAL_DB))
        playing = [(name, active["draft"][name]) for name in INSTRUMENTS if active["draft"].get(name) is not None]
        if playing:
            name, worst = min(playing, key=lambda pair: pair[1])
            goals.append((f"draft: every instrument >= {INSTRUMENT_GOAL_DB:g} dB", f"lowest {name} {worst:.2f} dB",
                          worst >= INSTRUMENT_GOAL_DB))
        for preset, margin in (("fast", FAST_GAIN_GOAL_DB), ("best", BEST_GAIN_GOAL_DB)):
            if score.get(preset) is not None:
                gain = score[preset] - draft
                views = int((presets.get(preset) or {}).get("views", 1))
                label = f"{preset} ({views} views of the extractor, not refinement)" if views > 1 else preset
                goals.append((f"{label} >= draft + {margin:g} dB", f"{gain:+.2f} dB", gain >= margin))
    teachers = {name: value for name, value in score.items() if name.startswith("teacher:") and value is not None}
    if teachers and draft is not None:
        name, teacher = max(teachers.items(), key=lambda item: item[1])
        goals.append((f"teacher beats the extractor (draft) by >= {TIE_DB:g} dB",
                      f"{name} {teacher:.3f} vs draft {draft:.3f} dB", teacher - draft >= TIE_DB))
        for preset_name, preset in presets.items():
            steps = int(preset.get("steps", 0))
            if 2 <= steps <= 4 and preset.get("sampler", "consistency") == "consistency" and score.get(preset_name) is not None:
                value = score[preset_name]
                goals.append((f"{preset_name} ({steps} consistency steps) at least matches the teacher "
                              f"(within {TIE_DB:g} dB)", f"{value:.3f} vs {teacher:.3f} dB", value >= teacher - TIE_DB))
    return goals


def full_band_goals(report: dict, high_band: str = DEFAULT_HIGH_BAND) -> list[Goal]:
    """Goals of issue #15 for every ``MODE/<high_band>`` row of a full-band report (active
    stems), by default the mode ``stemforge separate`` uses."""
    rows = {band: {row["name"]: row["active"] for row in report["bands"][band]} for band in report["bands"]}
    goals: list[Goal] = []
    for name, high in rows["high band"].items():
        if not name.endswith("/" + high_band):
            continue
        mode = name.split("/")[0]
        stems = [s for s in INSTRUMENTS if high.get(s) is not None]
        drums = high.get("drums")
        if drums is not None:
            goals.append((f"{name}: drums' high band >= +{DRUMS_HIGH_BAND_GOAL_DB:g} dB", f"{drums:.2f} dB",
                          drums >= DRUMS_HIGH_BAND_GOAL_DB))
        if stems:
            worst = min(stems, key=lambda s: high[s])
            goals.append((f"{name}: every stem's high band >= 0 dB", f"lowest {worst} {high[worst]:.2f} dB",
                          high[worst] >= 0.0))
        full, model = rows["full band"].get(name, {}), rows["model band"].get(mode, {})
        pairs = [(s, full[s] - model[s]) for s in stems if full.get(s) is not None and model.get(s) is not None]
        if pairs:
            worst, gap = min(pairs, key=lambda pair: pair[1])
            goals.append((f"{name}: full band >= model band, each stem", f"lowest margin {worst} {gap:+.2f} dB",
                          gap >= 0.0))
    return goals


def goals_table(goals: list[Goal]) -> list[str]:
    """The Markdown rows of a goals table (header included)."""
    lines = ["| goal | measured | status |", "|---|---|---|"]
    lines += [f"| {goal} | {measured} | {'pass' if passed else '**missed**'} |" for goal, measured, passed in goals]
    return lines
