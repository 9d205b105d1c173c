"""Checks a bundle's manifest must pass before anything it describes is allocated.

A manifest is data from outside: a corrupted or hostile one must end in one line naming
the bundle, never in a traceback or a many-gigabyte allocation. Three layers:

1. **Checksum**: ``manifest_sha256`` is the sha256 of the manifest's canonical JSON
   (keys sorted, no spaces, UTF-8) without that key, so an accidental edit is caught
   like a flipped weight byte (the weights have their own sha256 in ``files``).
2. **Bounds**: every architecture number is an integer (or finite float) within
   :data:`ARCHITECTURE_BOUNDS`; the sample rate, segment length, labels and id are sane.
3. **Cost**: the parameter count is computed on the ``meta`` device (shapes only, no
   memory), then checked against the weights file (at least 2 bytes per value, fp16)
   and the memory needed to load it against the machine's memory.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from core.errors import ModelLoadError
from core.fileio import sha256_bytes

CHECKSUM_KEY = "manifest_sha256"

ARCHITECTURE_BOUNDS: dict[str, tuple[int, int]] = {
    # inclusive (low, high) for the integer fields of UNetConfig; the paper's model uses
    # channels 256, cond_features 1024, segment 262144: the bounds leave ample room.
    "channels": (1, 4096),
    "patch": (1, 1024),
    "blocks_per_level": (1, 16),
    "attention_levels": (0, 16),
    "attention_heads": (1, 128),
    "attention_head_features": (1, 1024),
    "attention_ff_multiplier": (0, 16),
    "groups": (1, 1024),
    "cond_features": (1, 16384),
    "num_labels": (1, 64),
    "segment_samples": (1, 1 << 24),
}
LIST_BOUNDS: dict[str, tuple[int, int, int]] = {"multipliers": (1, 64, 13), "factors": (1, 64, 12)}
"""name -> (lowest value, highest value, most entries)."""
SAMPLE_RATE_BOUNDS = (8000, 384000)
MAX_FOURIER_SCALE = 1e4
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
"""Instrument labels become file names (``{stem}``): lowercase letters, digits, - and _."""
MEMORY_SHARE = 0.8
"""Loading may use at most this share of the machine's physical memory."""


def canonical_bytes(manifest: Mapping) -> bytes:
    """The manifest without its checksum, as canonical JSON (sorted keys, compact, UTF-8)."""
    body = {key: value for key, value in manifest.items() if key != CHECKSUM_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def seal(manifest: dict) -> dict:
    """Set ``manifest[CHECKSUM_KEY]`` to the manifest's checksum; returns the manifest."""
    manifest[CHECKSUM_KEY] = sha256_bytes(canonical_bytes(manifest))
    return manifest


def verify_checksum(manifest: Mapping, file: Path) -> None:
    """Raise :class:`ModelLoadError` unless the manifest carries its correct checksum."""
    recorded = manifest.get(CHECKSUM_KEY)
    if not isinstance(recorded, str):
        raise ModelLoadError(
            f"{file}: the manifest has no {CHECKSUM_KEY}; it was not written by this version "
            "of Stemforge or was edited: re-export the bundle"
        )
    try:
        actual = sha256_bytes(canonical_bytes(manifest))
    except ValueError as error:  # NaN or infinity in the JSON
        raise ModelLoadError(f"{file}: invalid manifest ({error})") from None
    if actual != recorded:
        raise ModelLoadError(
            f"{file}: manifest checksum mismatch (expected {recorded[:12]}..., got {actual[:12]}...): "
            "the manifest is corrupted or was modified; reinstall the bundle"
        )


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} = {value} is outside the sane range [{low}, {high}]")
    return value


def check_bounds(manifest: Mapping) -> None:
    """Raise ValueError (one line) unless every number is of the right type and sane.

    Runs before :class:`~core.nn.config.UNetConfig` is built from the manifest.
    """
    architecture = manifest["architecture"]
    if not isinstance(architecture, Mapping) or not isinstance(architecture.get("unet"), Mapping):
        raise ValueError("architecture.unet must be an object")
    unet = architecture["unet"]
    for name, (low, high) in ARCHITECTURE_BOUNDS.items():
        if name in unet:
            _integer(unet[name], f"architecture.unet.{name}", low, high)
    for name, (low, high, most) in LIST_BOUNDS.items():
        values = unet.get(name)
        if not isinstance(values, list) or not 1 <= len(values) <= most:
            raise ValueError(f"architecture.unet.{name} must be a list of 1 to {most} whole numbers")
        for value in values:
            _integer(value, f"architecture.unet.{name} entry", low, high)
    if "bottleneck_attention" in unet and not isinstance(unet["bottleneck_attention"], bool):
        raise ValueError("architecture.unet.bottleneck_attention must be true or false")
    scale = unet.get("fourier_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
            math.isfinite(scale) and 0 < scale <= MAX_FOURIER_SCALE):
        raise ValueError(f"architecture.unet.fourier_scale must be in (0, {MAX_FOURIER_SCALE:g}], got {scale!r}")
    _integer(manifest["sample_rate"], "sample_rate", *SAMPLE_RATE_BOUNDS)
    _integer(manifest["segment_samples"], "segment_samples", *ARCHITECTURE_BOUNDS["segment_samples"])
    bundle_id = manifest["id"]
    if not isinstance(bundle_id, str) or not 0 < len(bundle_id) <= 100:
        raise ValueError(f"id must be a name of 1 to 100 characters, got {bundle_id!r}")
    labels = manifest["instruments"]
    if not isinstance(labels, list) or not labels:
        raise ValueError("instruments must be a non-empty list of names")
    for label in labels:
        if not isinstance(label, str) or not LABEL_PATTERN.match(label) or label == "other":
            raise ValueError(
                f"instrument label {label!r} is not usable as a file name (lowercase letters, "
                "digits, - and _, at most 32; 'other' is the residual)"
            )
    if len(set(labels)) != len(labels):
        raise ValueError(f"instrument labels repeat: {labels}")


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_cost(values: int, networks: int, weights_bytes: int, file: Path,
               memory: int | None = None) -> None:
    """Refuse a bundle whose architecture cannot match its weights or would not fit.

    Args:
        values: tensor values (parameters and buffers) of all the listed networks,
            counted without allocating (``meta`` device).
        networks: how many networks are listed (for the message).
        weights_bytes: size of the weights file.
        memory: physical memory in bytes (default: this machine's).

    Loading needs about ``4 * values`` bytes for the float32 networks plus the stored
    tensors (``weights_bytes``) while they are copied in.
    """
    if weights_bytes < 2 * values:
        raise ModelLoadError(
            f"{file}: the manifest's architecture needs {values / 1e6:.1f} M values for "
            f"{networks} network(s) (at least {2 * values / 1e6:.1f} MB in fp16), but the file "
            f"holds {weights_bytes / 1e6:.1f} MB: the manifest does not describe these weights; "
            "reinstall the bundle"
        )
    needed = 4 * values + weights_bytes
    memory = physical_memory() if memory is None else memory
    if memory is not None and needed > MEMORY_SHARE * memory:
        raise ModelLoadError(
            f"{file}: loading needs about {needed / 1e9:.1f} GB of memory; this machine has "
            f"{memory / 1e9:.1f} GB: use a smaller model"
        )
