"""``stemforge models``: list the installed models; ``models add PATH...``; ``models remove ID``;
``models get ID`` (:mod:`core.models.get_command`: download an official model on request).

Listing reads manifests only (no weights, no third-party file is opened). Adding reads
and checks every file first (a Demucs ``.th`` with torch's weights-only unpickler, see
:mod:`core.models.demucs_files`), then registers the model in the user's model folder
(:func:`core.models.store.models_folder`) whole or not at all. Torch is imported only
when a command needs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.console import one_line
from core.models.store import models_folder

PICKLE_WARNING = ("A Demucs .th file is a Python pickle, a format that can run code when it is loaded. "
                  "Stemforge reads it with torch's weights-only unpickler, which refuses anything but "
                  "the Demucs model classes; still, add only files from a source you trust.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``stemforge models [--json]``, ``models add PATH... [--id ID]``, ``models remove ID``."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    listing = actions.add_parser("list", help="list the installed models (the default)",
                                 description="List the installed models with their stems and presets.")
    listing.add_argument("--json", action="store_true", help="print machine-readable JSON")
    add = actions.add_parser(
        "add", help="install a model from files you have (a Demucs .th, a bag's .yaml with its .th files, "
                    "a folder, or a Stemforge bundle folder)",
        description=f"Install a model into {models_folder()} ($STEMFORGE_MODELS overrides). " + PICKLE_WARNING)
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help="one .th file; several files with their bag .yaml; or a folder holding them")
    add.add_argument("--id", dest="model_id", default=None,
                     help="the id to install it under (default: the bag's name or the .th file's signature)")
    remove = actions.add_parser("remove", help="remove an installed model",
                                description="Remove a model from the user's model folder (built-in models stay).")
    remove.add_argument("model_id", metavar="ID")
    from core.models.get_command import add_get_parser

    add_get_parser(actions)


def run(args: argparse.Namespace):
    action = getattr(args, "models_action", None) or "list"
    if action == "get":
        from core.models.get_command import run_get

        return run_get(args)
    if action == "add":
        _add(args)
    elif action == "remove":
        from core.models.registry import remove_model

        folder = remove_model(args.model_id)
        print(f"removed {args.model_id} ({folder})")
    else:
        _list(args)


def _add(args: argparse.Namespace) -> None:
    from core.models.registry import add_model

    description = add_model(args.paths, args.model_id)
    print(f"added {description.id} ({description.family}) -> {description.path}")
    print(f"  stems {', '.join(description.stems)} (residual: {description.residual}), "
          f"{description.sample_rate} Hz, {description.channels} channel{'s' if description.channels > 1 else ''}")
    if description.licence:
        print(f"  licence: {description.licence}")
    print(f"  use it with: stemforge separate --model {description.id} FILES...")


def _list(args: argparse.Namespace) -> None:
    from core.models.registry import installed_models

    models, problems = installed_models()
    for problem in problems:  # one line each; the others are still listed
        print(f"stemforge: error: {one_line(str(problem))}", file=sys.stderr)
    if args.json:
        print(json.dumps([model.to_json() for model in models], indent=2, default=str))
        return
    if not models:
        print(f"no model installed; add one with 'stemforge models add FILE' (folder: {models_folder()})")
        return
    for model in models:
        print(f"{model.id}  [{model.family}, {model.source}]  ({model.path})")
        size = f", {model.parameters / 1e6:.2f} M parameters" if model.parameters else ""
        print(f"  stems {', '.join(model.stems)} (residual: {model.residual}); {model.sample_rate} Hz, "
              f"{'stereo' if model.channels == 2 else 'mono'}{size}")
        withheld = model.withheld_presets()
        for name, preset in model.presets.items():
            print(f"  preset {name:<9} {_preset_text(preset)}"
                  + (f"  [not offered: {withheld[name]}]" if name in withheld else ""))
        for name, digest in model.files.items():
            print(f"  file {name}  sha256 {digest}")
        if model.licence:
            print(f"  licence: {model.licence}")
        if model.origin and model.source == "installed" and model.family != "stemforge":
            print(f"  origin: {model.origin}")


def _preset_text(preset: dict) -> str:
    parts = [f"steps {preset.get('steps', 0)}"]
    if preset.get("steps"):
        parts.append(f"sigma_max {preset.get('sigma_max', 0.0):g}")
    if int(preset.get("views", 1)) > 1:
        parts.append(f"views {preset['views']}")
    if preset.get("shifts"):
        parts.append(f"{preset['shifts']} shifts")
    if preset.get("mask"):
        parts.append("+ ratio mask")
    if preset.get("gain_db") is not None:
        parts.append(f"{preset['gain_db']:+.2f} dB over draft (validation)")
    return "  ".join(parts)
