"""The diffusion constants: the method's values, one torch-free source for every user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.bundle import DEFAULT_DIFFUSION
from core.diffusion import constants, preconditioning, samplers, schedules
from core.training.refiner_config import DiffusionConfig, DistillConfig

REPOSITORY = Path(__file__).resolve().parents[3]


def test_the_constants_are_the_methods():
    assert (constants.SIGMA_DATA, constants.SIGMA_MIN, constants.RHO) == (0.2, 1e-4, 9.0)


def test_every_user_takes_them_from_the_constants_module():
    assert preconditioning.SIGMA_DATA is constants.SIGMA_DATA
    assert schedules.SIGMA_MIN is samplers.SIGMA_MIN is constants.SIGMA_MIN
    assert schedules.RHO is constants.RHO
    distill = DistillConfig(data="d", extractor="e", teacher="t", anchor="zero")
    assert (distill.data_scale, distill.sigma_min, distill.rho) == (0.2, 1e-4, 9.0)
    assert DiffusionConfig(data="d", extractor="e", anchor="zero").data_scale == 0.2
    assert DiffusionConfig(data="d", extractor="e").data_scale is constants.RESIDUAL_SIGMA_DATA
    assert (DEFAULT_DIFFUSION["sigma_data"], DEFAULT_DIFFUSION["sigma_min"], DEFAULT_DIFFUSION["rho"]) == (
        0.2, 1e-4, 9.0,
    )


def test_the_constants_and_the_training_defaults_import_no_torch():
    code = (
        "import sys, core.diffusion.constants, core.training.config; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=REPOSITORY)
    assert result.stdout.strip() == "False"
