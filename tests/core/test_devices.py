"""Device names: one list, torch only when asked which devices exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.devices import DEVICE_NAMES, available_devices, resolve_device
from core.errors import ConfigError

REPOSITORY = Path(__file__).resolve().parents[2]


def test_every_name_is_reported_and_auto_and_cpu_always_work():
    assert set(available_devices()) == set(DEVICE_NAMES)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("AUTO").type in ("cpu", "cuda", "mps")


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown device 'tpu'; choose from auto, cpu, cuda, mps"):
        resolve_device("tpu")


def test_the_names_and_the_preset_order_are_read_without_torch():
    code = "import sys, core.devices, core.model; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=REPOSITORY)
    assert result.stdout.strip() == "False"
