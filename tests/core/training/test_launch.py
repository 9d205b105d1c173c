"""open_datasets: the training crops follow the run's seed, the validation crops do not,
so that parts of a model trained with different seeds score the same validation crops."""

from __future__ import annotations

import numpy as np

from core.training.config import ExtractorConfig
from core.training.launch import open_datasets
from core.training.resolved import resolve
from tests.core.data.slakh_fixtures import tone, write_preprocessed_track

RATE = 22050


def write_set(root):
    rng = np.random.default_rng(0)
    for split in ("train", "validation"):
        for index in range(2):
            seconds = 3.0
            n = int(seconds * RATE)
            write_preprocessed_track(root / split, f"Track0000{index}", {
                "bass": tone(seconds, RATE, 55 + 10 * index)[:, 0],
                "drums": (0.1 * rng.standard_normal(n)).astype(np.float32),
                "guitar": tone(seconds, RATE, 330)[:, 0],
                "piano": tone(seconds, RATE, 523)[:, 0],
            })
    return root


def test_validation_crops_do_not_depend_on_the_run_seed(tmp_path):
    data = write_set(tmp_path)
    common = dict(data=str(data), net="tiny", segment_seconds=4096 / RATE, batch=2, steps=1, minutes=None,
                  validation_crops=4)
    first_train, first_validation = open_datasets(resolve(ExtractorConfig(seed=2, **common)))
    second_train, second_validation = open_datasets(resolve(ExtractorConfig(seed=3, **common)))
    assert [first_validation.crop(i) for i in range(20)] == [second_validation.crop(i) for i in range(20)]
    assert [first_train.crop(i) for i in range(20)] != [second_train.crop(i) for i in range(20)]
