"""The official Demucs v4 models ``stemforge models get`` can download, and what is known of them.

Nothing here touches the network or torch: it is the table :mod:`core.models.download`
fetches from, and the text shown before anyone agrees to a download.

Where the files are (as the ``demucs`` package 4.1.0 lists them): ``demucs/pretrained.py``
sets ``ROOT_URL = "https://dl.fbaipublicfiles.com/demucs/"`` and ``demucs/remote/files.txt``
lists the Hybrid Transformer files under ``root: hybrid_transformer/`` (the experimental
six-source file sits under the same root); the bags are ``demucs/remote/<name>.yaml``:

- ``htdemucs``: ``models: ['955717e8']``, one file;
- ``htdemucs_ft``: ``models: ['f7e0c4bc', 'd12395a8', '92cfc3b6', '04573f0d']`` with identity
  ``weights`` (each network's estimate is kept for one stem: drums, bass, other, vocals);
- ``htdemucs_6s``: ``models: ['5c90dfd2']``, one file.

(demucs 4.1.0 first tries copies on the Hugging Face hub, as safetensors; Stemforge fetches
the ``.th`` files of the legacy list above, the ones its Demucs family reads.)

Each file is pinned by its full sha256 (:class:`OfficialFile`): a download is installed only
when every byte matches. A file whose full sha256 is not known has ``sha256=None`` and its
model is refused before any request (:func:`unpinned_files`). A ``.th`` file is a pickle; the
Demucs family reads it with torch's weights-only unpickler all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.models.demucs_files import LICENCE_NOTE

DEMUCS_ROOT_URL = "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/"
"""``demucs.pretrained.ROOT_URL`` + the ``root:`` of the Hybrid Transformer files in
``demucs/remote/files.txt`` (demucs 4.1.0)."""

ORIGIN_NOTE = ("the official Demucs v4 weights by Meta AI Research (Rouard, Massa, Défossez: "
               "'Hybrid Transformers for Music Source Separation', 2023), from the download "
               "server the demucs package lists")


@dataclass(frozen=True)
class OfficialFile:
    """One file of an official model.

    Attributes:
        name: its name on the server and in the model's folder (``<sig>-<sha8>.th``).
        sha256: its full sha256 (64 lowercase hex digits), or None when no public source
            states it (its model is then refused).
        size: its length in bytes, when a public source states it (shown before the
            download, and a server offering another length is refused early).
    """

    name: str
    sha256: str | None
    size: int | None = None


@dataclass(frozen=True)
class OfficialModel:
    """An official model: its files and, for a bag, the YAML written beside them.

    Attributes:
        id: the id it is installed under (``htdemucs``...).
        files: the ``.th`` files, in the bag's order.
        bag_yaml: the bag's YAML (its models and weights, as ``demucs/remote/<id>.yaml``
            gives them), written as ``<id>.yaml``; None for one file, which is then the entry.
        stems: what the model separates (its own names; the installed manifest takes the
            networks' own list).
        about: one line on what it is.
    """

    id: str
    files: tuple[OfficialFile, ...]
    bag_yaml: str | None
    stems: tuple[str, ...]
    about: str

    @property
    def total_size(self) -> int | None:
        """Bytes to download, when every file's size is known."""
        sizes = [file.size for file in self.files]
        return None if any(size is None for size in sizes) else sum(sizes)

    @property
    def entry(self) -> str:
        """The file the Demucs family loads first: the bag's YAML, or the single ``.th``."""
        return f"{self.id}.yaml" if self.bag_yaml is not None else self.files[0].name


@dataclass(frozen=True)
class Catalogue:
    """Where official models come from: a root URL (every file is ``root_url + name``) and
    the models. Tests pass their own (a server on 127.0.0.1, files they made)."""

    root_url: str
    models: Mapping[str, OfficialModel] = field(default_factory=dict)
    origin: str = ORIGIN_NOTE
    licence: str = LICENCE_NOTE

    def url(self, file: OfficialFile) -> str:
        return self.root_url + file.name


FOUR_STEMS = ("drums", "bass", "other", "vocals")

# The full sha256 values below are not published by the demucs project itself (it checks
# the 8-hex prefix in each name). Each is stated, identically, in the source of several
# unrelated public GitHub projects that download and pin these files (found with a content
# search of public code: download manifests, checksum tables and verification scripts for
# https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/<name>); every value starts with
# the 8 hex digits demucs put in the file's name, and the same projects give the sizes.
# The same sources give the package's own YAML files sha256 values that match demucs
# 4.1.0's htdemucs_ft.yaml and htdemucs_6s.yaml byte for byte (checked here).
OFFICIAL_MODELS: dict[str, OfficialModel] = {
    "htdemucs": OfficialModel(
        id="htdemucs",
        files=(OfficialFile("955717e8-8726e21a.th",
                            "8726e21a993978c7ba086d3872e7608d7d5bfca646ca4aca459ffda844faa8b4", 84_141_911),),
        bag_yaml=None, stems=FOUR_STEMS,
        about="Hybrid Transformer Demucs (v4), the demucs command's default model",
    ),
    "htdemucs_ft": OfficialModel(
        id="htdemucs_ft",
        files=(
            OfficialFile("f7e0c4bc-ba3fe64a.th",
                         "ba3fe64ae8ef66ac9a4857222ce48efbdc5eb3ad375cb79dd13debee5aaa4066", 84_141_271),
            OfficialFile("d12395a8-e57c48e6.th",
                         "e57c48e6b0e38af4f7118d7bd08c49f0a0c0edf7d09143bdd902ea0d237303e6", 84_141_271),
            OfficialFile("92cfc3b6-ef3bcb9c.th",
                         "ef3bcb9c8b40d14ae5d51b6db2587339cc12c6b77c0be151ce6d69002e087bf2", 84_141_271),
            OfficialFile("04573f0d-f3cf25b2.th",
                         "f3cf25b222c4eed7cd49dd8b2c9597d50c18bd154090f7b919cfa5f93cf22c49", 84_141_271),
        ),
        bag_yaml=("models: ['f7e0c4bc', 'd12395a8', '92cfc3b6', '04573f0d']\n"
                  "weights: [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], "
                  "[0.0, 0.0, 0.0, 1.0]]\n"),
        stems=FOUR_STEMS,
        about="htdemucs fine-tuned per stem: a bag of four networks, about four times slower",
    ),
    "htdemucs_6s": OfficialModel(
        id="htdemucs_6s",
        files=(OfficialFile("5c90dfd2-34c22ccb.th",
                            "34c22ccb381c6f9fdbf324f04e1e2fe21aaaf293f5ded163a162697ff9a02ddd", 54_996_327),),
        bag_yaml=None, stems=(*FOUR_STEMS, "guitar", "piano"),
        about="experimental six-stem htdemucs (its authors note the piano stem is weak)",
    ),
}

OFFICIAL = Catalogue(DEMUCS_ROOT_URL, OFFICIAL_MODELS)
"""The catalogue ``stemforge models get`` and the app's "Get model…" use."""


def unpinned_files(model: OfficialModel) -> list[str]:
    """The names of ``model``'s files whose full sha256 is not pinned (empty: all are)."""
    return [file.name for file in model.files if not file.sha256]


def megabytes(size: int | None) -> str:
    return "size unknown" if size is None else f"{size / 1e6:.1f} MB"


def summary_lines(model: OfficialModel, catalogue: Catalogue, destination: str) -> list[str]:
    """What is shown before a download is confirmed: what the model is, where every file
    comes from, its size and pinned sha256, the licence situation, the pickle warning."""
    lines = [f"{model.id}: {model.about}",
             f"  stems: {', '.join(model.stems)}",
             f"  origin: {catalogue.origin}",
             f"  from: {catalogue.root_url}"]
    for file in model.files:
        pinned = f"sha256 {file.sha256}" if file.sha256 else "full sha256 unknown"
        lines.append(f"    {file.name}  {megabytes(file.size)}  {pinned}")
    lines.append(f"  download: {megabytes(model.total_size)}, installed into {destination}")
    lines.append(f"  licence: {catalogue.licence}")
    lines.append("  Each .th file is a Python pickle; it is installed only if its sha256 matches the "
                 "pinned value, and read with torch's weights-only unpickler.")
    return lines
