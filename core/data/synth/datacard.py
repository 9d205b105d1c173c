"""The data card of a generated set: ``data_card.json`` and ``DATA_CARD.md`` at its root.

Built from the tracks' ``metadata.yaml`` alone (written by :mod:`.layout`), so it
describes whatever the folder holds, resumed or extended runs included:

- per source (GM font program, SoundFont kit, recorded instrument): its class, kind,
  licence, and the stems and seconds it supplied per split;
- per class and split, the share of stems played by recorded instruments or kits;
- the share of stems through each effect (per class), and of songs through each
  bus effect;
- loudness statistics of the mixes (RMS, peak, crest factor, in dB);
- the non-target parts (``other``): share of songs with a lead vocal and with any such
  part, parts per song, songs per family and per voice, and the level of the lead vocal
  and of the other parts relative to the mix (active windows, dB);
- the attributions that CC BY sources require.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from core.data.synth.layout import SPLITS
from core.data.synth.sources import Palette

CARD_JSON = "data_card.json"
CARD_MARKDOWN = "DATA_CARD.md"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EFFECT_NAME = re.compile(r"^(\w+)\(")


def _effect_names(chain: list[str]) -> set[str]:
    names = set()
    for text in chain or []:
        match = _EFFECT_NAME.match(text)
        if match:
            names.add(match.group(1))
    return names


def collect(out_dir: Path) -> dict:
    """The card's figures (see the module doc) from every track under ``out_dir``."""
    sources: dict[str, dict] = {}
    recorded_share: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    effects: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    stems_per_class: dict[str, int] = defaultdict(int)
    bus: dict[str, int] = defaultdict(int)
    loudness: dict[str, list[float]] = defaultdict(list)
    songs = {split: 0 for split in SPLITS}
    other = _OtherParts()
    for split in SPLITS:
        for metadata_path in sorted((out_dir / split).glob("Track*/metadata.yaml")):
            with open(metadata_path, encoding="utf-8") as handle:
                metadata = yaml.load(handle, Loader=_LOADER)
            extra = metadata.get("stemforge", {})
            seconds = float(extra.get("generation", {}).get("seconds", 0.0))
            songs[split] += 1
            for name in _effect_names(extra.get("bus_chain", [])):
                bus[name] += 1
            for key, value in extra.get("loudness", {}).items():
                loudness[key].append(float(value))
            other.add(split, metadata.get("stems", {}).values())
            for stem in metadata.get("stems", {}).values():
                instrument = str(stem.get("inst_class", "")).lower()
                name = str(stem.get("source", stem.get("plugin_name", "?")))
                kind = str(stem.get("source_kind", "gm"))
                entry = sources.setdefault(
                    name,
                    {"class": instrument, "kind": kind, "licence": stem.get("licence", "?"),
                     "stems": {s: 0 for s in SPLITS}, "seconds": {s: 0.0 for s in SPLITS}},
                )
                entry["stems"][split] += 1
                entry["seconds"][split] += seconds
                share = recorded_share[instrument][split]
                share[0] += int(kind != "gm")
                share[1] += 1
                stems_per_class[instrument] += 1
                for effect in _effect_names(stem.get("chain", [])):
                    effects[instrument][effect] += 1
    total_songs = sum(songs.values())
    return {
        "songs": songs,
        "sources": dict(sorted(sources.items(), key=lambda kv: (kv[1]["class"], kv[0]))),
        "non_gm_share": {
            instrument: {split: round(r / n, 3) for split, (r, n) in by_split.items() if n}
            for instrument, by_split in sorted(recorded_share.items())
        },
        "effect_share": {
            instrument: {
                name: round(count / stems_per_class[instrument], 3)
                for name, count in sorted(counts.items())
            }
            for instrument, counts in sorted(effects.items())
        },
        "bus_effect_share": {
            name: round(count / max(total_songs, 1), 3) for name, count in sorted(bus.items())
        },
        "loudness": {
            key: {
                "mean": round(float(np.mean(values)), 2),
                "p10": round(float(np.percentile(values, 10)), 2),
                "median": round(float(np.median(values)), 2),
                "p90": round(float(np.percentile(values, 90)), 2),
            }
            for key, values in sorted(loudness.items())
            if values
        },
        "other_parts": other.summary(songs),
    }


TARGET_CLASSES = frozenset({"bass", "drums", "guitar", "piano"})


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p10": round(float(np.percentile(values, 10)), 2),
            "median": round(float(np.median(values)), 2),
            "p90": round(float(np.percentile(values, 90)), 2)}


class _OtherParts:
    """Running counts of the non-target parts (see the module doc)."""

    def __init__(self) -> None:
        self.with_vocal = {split: 0 for split in SPLITS}
        self.with_any = {split: 0 for split in SPLITS}
        self.parts = 0
        self.families: dict[str, int] = defaultdict(int)
        self.voices: dict[str, int] = defaultdict(int)
        self.vocal_levels: list[float] = []
        self.other_levels: list[float] = []

    def add(self, split: str, stems) -> None:
        others = [s for s in stems if str(s.get("inst_class", "")).lower() not in TARGET_CLASSES]
        self.parts += len(others)
        self.with_any[split] += int(bool(others))
        self.with_vocal[split] += int(any(s.get("family") == "lead vocal" for s in others))
        for stem in others:
            self.families[str(stem.get("family", stem.get("inst_class", "?")))] += 1
            if stem.get("voice"):
                self.voices[str(stem["voice"])] += 1
            level = stem.get("level_db_re_mix")
            if level is not None:
                target = self.vocal_levels if stem.get("family") == "lead vocal" else self.other_levels
                target.append(float(level))

    def summary(self, songs: dict[str, int]) -> dict:
        total = max(sum(songs.values()), 1)
        return {
            "songs_with_lead_vocal": {s: round(self.with_vocal[s] / songs[s], 3) for s in SPLITS if songs[s]},
            "songs_with_any": {s: round(self.with_any[s] / songs[s], 3) for s in SPLITS if songs[s]},
            "parts_per_song": round(self.parts / total, 2),
            "families": dict(sorted(self.families.items())),
            "voices": dict(sorted(self.voices.items())),
            "lead_vocal_level_re_mix_db": _spread(self.vocal_levels),
            "other_part_level_re_mix_db": _spread(self.other_levels),
        }


def _markdown(card: dict, palette: Palette) -> str:
    lines = ["# Data card", ""]
    songs = card["songs"]
    lines.append(
        "Songs: " + ", ".join(f"{split} {count}" for split, count in songs.items() if count)
        + ". Generated by `stemforge synth`; this card is rewritten from the tracks' "
        "metadata after every run."
    )
    if palette.hold_out:
        held = ", ".join(f"{k}: {v}" for k, v in palette.heldout_ids.items())
        lines += ["", f"Held-out timbres (validation split only, never in train or test): {held}."]
    lines += ["", "## Sources", "", "| source | class | kind | licence | stems (train/val/test) "
              "| minutes (train/val/test) |", "|---|---|---|---|---|---|"]
    for name, entry in card["sources"].items():
        stems = "/".join(str(entry["stems"][s]) for s in SPLITS)
        minutes = "/".join(f"{entry['seconds'][s] / 60:.1f}" for s in SPLITS)
        lines.append(f"| {name} | {entry['class']} | {entry['kind']} | {entry['licence']} "
                     f"| {stems} | {minutes} |")
    lines += ["", "## Share of stems from recorded instruments or kits", "",
              "| class | " + " | ".join(SPLITS) + " |", "|---|" + "---|" * len(SPLITS)]
    for instrument, by_split in card["non_gm_share"].items():
        cells = " | ".join(f"{by_split[s] * 100:.0f}%" if s in by_split else "-" for s in SPLITS)
        lines.append(f"| {instrument} | {cells} |")
    lines += ["", "## Share of stems through each effect", ""]
    for instrument, shares in card["effect_share"].items():
        text = ", ".join(f"{name} {share * 100:.0f}%" for name, share in shares.items())
        lines.append(f"- {instrument}: {text}")
    bus = ", ".join(f"{name} {share * 100:.0f}%" for name, share in card["bus_effect_share"].items())
    lines += [f"- mix bus (share of songs): {bus or 'none'}", "", "## Loudness of the mixes", "",
              "| measure | mean | p10 | median | p90 |", "|---|---|---|---|---|"]
    for key, stats in card["loudness"].items():
        lines.append(f"| {key} | {stats['mean']} | {stats['p10']} | {stats['median']} "
                     f"| {stats['p90']} |")
    other = card.get("other_parts")
    if other and other["parts_per_song"]:
        share = lambda d: "/".join(f"{d[s] * 100:.0f}%" if s in d else "-" for s in SPLITS)  # noqa: E731
        spread = lambda d: "n/a" if not d else f"median {d['median']} (p10 {d['p10']}, p90 {d['p90']})"  # noqa: E731
        lines += ["", "## Non-target parts (all in `other`)", "",
                  f"- songs with a lead vocal (train/val/test): {share(other['songs_with_lead_vocal'])}; "
                  f"with any non-target part: {share(other['songs_with_any'])}; "
                  f"{other['parts_per_song']} parts per song",
                  "- parts per family: " + ", ".join(f"{k} {v}" for k, v in other["families"].items()),
                  "- sung parts per voice (espeak-ng language+variant): "
                  + ", ".join(f"{k} {v}" for k, v in other["voices"].items()),
                  f"- lead vocal level re the mix, active windows: {spread(other['lead_vocal_level_re_mix_db'])} dB",
                  f"- other parts' level re the mix: {spread(other['other_part_level_re_mix_db'])} dB"]
    credits = sorted(
        {(r.id, r.licence, r.description, r.source) for r in palette.recorded
         if "CC-BY" in r.licence.upper().replace(" ", "-")}
    )
    if credits:
        lines += ["", "## Attributions", ""]
        lines += [f"- {ident}: {description}, {licence}, {source}"
                  for ident, licence, description, source in credits]
    return "\n".join(lines) + "\n"


def write_data_card(out_dir: str | Path, palette: Palette) -> dict:
    """Write ``data_card.json`` and ``DATA_CARD.md`` into ``out_dir``; returns the card."""
    out_dir = Path(out_dir)
    card = collect(out_dir)
    card["palette"] = palette.describe()
    (out_dir / CARD_JSON).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (out_dir / CARD_MARKDOWN).write_text(_markdown(card, palette), encoding="utf-8")
    return card
