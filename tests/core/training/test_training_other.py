"""Training with the set's non-target parts in the mixtures (``--include-other``)."""

from __future__ import annotations

import numpy as np
import torch

from core.training.config import ExtractorConfig
from core.training.launch import open_datasets
from core.training.resolved import resolve
from tests.core.data.slakh_fixtures import stem_info, tone, write_slakh_track


def _set(root):
    for split in ("train", "validation"):
        for index, frequency in enumerate((110.0, 220.0)):
            write_slakh_track(root / split, f"Track{index:05d}", {
                "S00": (stem_info("Bass"), tone(2.0, 22050, frequency)),
                "S01": (stem_info("Organ"), tone(2.0, 22050, 3 * frequency, 0.3)),
            })


def test_include_other_puts_the_non_target_parts_in_train_and_validation_mixtures(tmp_path):
    _set(tmp_path)
    crops = {}
    for include in (False, True):
        config = ExtractorConfig(data=str(tmp_path), net="tiny", steps=1, include_other=include,
                                 segment_seconds=0.5)
        train, validation = open_datasets(resolve(config))
        crops[include] = (train, validation)
        assert train.include_other == include and validation.include_other == include
    for index in range(4):
        for which in (0, 1):
            m_four, t_four, label_four = crops[False][which][index]
            m_all, t_all, label_all = crops[True][which][index]
            assert label_four == label_all and torch.equal(t_four, t_all)
            extra = (m_all - m_four).numpy()
            assert np.sqrt(np.mean(extra**2)) > 0.1  # the organ, about 0.3 / sqrt(2) RMS


def test_include_other_is_a_weight_shaping_option_and_defaults_off():
    from core.training.runs import RUNTIME_FIELDS  # what a resumed run may change

    assert ExtractorConfig(data="x", steps=1).include_other is False
    assert "include_other" not in RUNTIME_FIELDS


def test_other_probability_reaches_the_training_crops_only(tmp_path):
    from core.errors import ConfigError

    _set(tmp_path)
    config = ExtractorConfig(data=str(tmp_path), net="tiny", steps=1, include_other=True,
                             other_probability=0.25, segment_seconds=0.5)
    train, validation = open_datasets(resolve(config))
    assert train.other_probability == 0.25 and validation.other_probability == 1.0
    assert ExtractorConfig(data="x", steps=1).other_probability == 1.0
    try:
        ExtractorConfig(data="x", steps=1, other_probability=2.0)
    except ConfigError as error:
        assert "other_probability" in str(error)
    else:
        raise AssertionError("other_probability 2.0 accepted")
