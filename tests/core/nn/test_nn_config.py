"""UNetConfig: validation, derived sizes, JSON round trip, the named table."""

import pytest

from core.errors import ConfigError
from core.nn.config import CONFIGS, UNetConfig, get_config


def test_every_named_config_is_consistent():
    for name, config in CONFIGS.items():
        assert config.segment_samples % config.hop == 0, name
        assert len(config.multipliers) == config.depth + 1, name


def test_paper_config_has_the_published_shape():
    paper = get_config("paper")
    assert (paper.channels, paper.patch) == (256, 16)
    assert paper.multipliers == (1, 2, 4, 4, 4, 4, 4)
    assert paper.factors == (4, 4, 4, 2, 2, 2)
    assert paper.hop == 16 * 4 * 4 * 4 * 2 * 2 * 2
    assert paper.num_stages == 15
    assert (paper.attention_heads, paper.attention_head_features) == (8, 128)


def test_stage_shapes_follow_the_levels():
    paper = get_config("paper")
    shapes = paper.stage_shapes(262144)
    assert len(shapes) == 15
    assert shapes[0] == (256, 16384)  # patcher
    assert shapes[1:7] == [(512, 4096), (1024, 1024), (1024, 256), (1024, 128), (1024, 64), (1024, 32)]
    assert shapes[7] == (1024, 32)  # bottleneck
    assert shapes[8:14] == [(1024, 64), (1024, 128), (1024, 256), (1024, 1024), (512, 4096), (256, 16384)]
    assert shapes[14] == (1, 262144)  # output waveform
    assert get_config("tiny").num_stages == 2 * get_config("tiny").depth + 3


def test_stage_shapes_reject_lengths_off_the_hop():
    tiny = get_config("tiny")
    with pytest.raises(ConfigError, match="multiple"):
        tiny.stage_shapes(tiny.hop + 1)


def test_dict_round_trip_and_unknown_keys():
    lite = get_config("lite")
    assert UNetConfig.from_dict(lite.to_dict()) == lite
    with pytest.raises(ConfigError, match="unknown"):
        UNetConfig.from_dict({**lite.to_dict(), "width": 3})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"channels": 30}, "multiple of patch"),
        ({"multipliers": (1, 2)}, "multipliers"),
        ({"attention_levels": 5}, "attention_levels"),
        ({"segment_samples": 100}, "segment_samples"),
    ],
)
def test_invalid_configs_are_refused(changes, message):
    data = {**get_config("tiny").to_dict(), **changes}
    with pytest.raises(ConfigError, match=message):
        UNetConfig.from_dict(data)


def test_unknown_name():
    with pytest.raises(ConfigError, match="choose from"):
        get_config("huge")
