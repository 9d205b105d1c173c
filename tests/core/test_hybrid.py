"""HybridModel: the StemModel the pipeline drives (extractor once, then refiner steps)."""

import pytest
import torch

from core.errors import Cancelled, ConfigError
from core.hybrid import HybridModel
from core.model import Preset, StemModel
from core.nn.config import get_config
from core.nn.unet import UNet
from core.progress import CancelToken

pytestmark = pytest.mark.usefixtures("single_thread")

PRESETS = {
    "draft": Preset("draft", 0, 0.0),
    "fast": Preset("fast", 1, 0.0124),
    "balanced": Preset("balanced", 2, 0.25),
    "best": Preset("best", 4, 0.25),
    "reference": Preset("reference", 3, 0.01, sampler="teacher"),
}


def perturbed(net: UNet, seed: int) -> UNet:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    return net


class CountingUNet(UNet):
    """A UNet that counts its forward calls and the batch sizes it saw."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def forward(self, x, *args, **kwargs):
        self.batches.append(x.shape[0])
        return super().forward(x, *args, **kwargs)


def make_model(counting: bool = False, teacher: bool = True) -> HybridModel:
    config = get_config("tiny")
    cls = CountingUNet if counting else UNet
    extractor = perturbed(cls(config), 0)
    student = perturbed(cls(config, noise_conditioned=True), 1)
    teach = perturbed(cls(config, noise_conditioned=True), 2) if teacher else None
    return HybridModel(extractor, student, PRESETS, teacher=teach, model_id="tiny-test")


LENGTH = 512  # any multiple of the tiny hop (16) works; shorter than a segment keeps tests fast


def mixture(n: int = 3, seed: int = 0) -> torch.Tensor:
    return 0.3 * torch.randn(n, LENGTH, generator=torch.Generator().manual_seed(seed))


def run(model, preset, instruments=("bass", "drums", "piano"), seed=0, mix=None, cancel=None):
    return model.separate(
        mixture() if mix is None else mix, list(instruments), model.presets[preset],
        torch.Generator().manual_seed(seed), cancel or CancelToken(),
    )


def test_it_is_a_stem_model():
    model = make_model()
    assert isinstance(model, StemModel)
    assert model.segment_samples == get_config("tiny").segment_samples
    assert model.instruments == ("bass", "drums", "guitar", "piano")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_gives_one_stem_per_segment_and_instrument(preset):
    out = run(make_model(), preset)
    assert out.shape == (3, 3, LENGTH)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    if preset != "draft":
        assert out.abs().max() <= 1.0


def test_extractor_runs_once_and_the_refiner_once_per_step():
    model = make_model(counting=True)
    model.max_batch = 4
    for name in ("draft", "fast", "balanced", "best", "reference"):
        for net in model.networks().values():
            net.batches.clear()
        run(model, name, mix=mixture(3))  # 9 pairs -> batches of 4, 4, 1
        steps = PRESETS[name].steps
        assert model.extractor.batches == [4, 4, 1]
        refiner = model.teacher if PRESETS[name].sampler == "teacher" else model.student
        other = model.student if refiner is model.teacher else model.teacher
        assert refiner.batches == [4] * steps + [4] * steps + [1] * steps
        assert other.batches == []


def test_draft_is_the_extractor_output_for_each_label():
    model = make_model()
    mix = mixture(2)
    out = run(model, "draft", instruments=("piano", "bass"), mix=mix)
    with torch.inference_mode():
        piano = model.extractor(mix[:, None], torch.tensor([3, 3]))
        bass = model.extractor(mix[:, None], torch.tensor([0, 0]))
    torch.testing.assert_close(out[:, 0], piano[:, 0])
    torch.testing.assert_close(out[:, 1], bass[:, 0])


def test_two_views_are_the_odd_part_of_the_separator():
    """views=2: y(x) = (f(x) - f(-x)) / 2, so y(-x) = -y(x) exactly; twice the passes."""
    model = make_model(counting=True)
    model.presets = {**PRESETS, "draft2": Preset("draft2", 0, 0.0, views=2), "fast2": Preset("fast2", 1, 0.0124, views=2)}
    mix = mixture(2)
    draft = run(model, "draft", mix=mix)
    minus = run(model, "draft", mix=-mix)
    model.extractor.batches.clear()
    both = run(model, "draft2", mix=mix)
    assert model.extractor.batches == [6, 6]  # 2 segments x 3 stems, once per view
    torch.testing.assert_close(both, (draft - minus) / 2)
    assert not torch.allclose(both, draft)  # the tiny network is not odd
    torch.testing.assert_close(run(model, "draft2", mix=-mix), -both)
    assert model.presets["fast2"].passes_per_stem == 4
    assert torch.equal(run(model, "fast2", mix=mix, seed=3), run(model, "fast2", mix=mix, seed=3))


def test_refinement_changes_the_draft_and_depends_on_the_seed():
    model = make_model()
    draft, best = run(model, "draft"), run(model, "best")
    assert not torch.allclose(draft, best)
    assert torch.equal(run(model, "best", seed=5), run(model, "best", seed=5))
    assert not torch.equal(run(model, "best", seed=5), run(model, "best", seed=6))


def test_sub_batches_match_one_big_batch():
    model = make_model()
    whole = run(model, "balanced")
    model.max_batch = 2
    # each pair has its own noise generator, so only float rounding may differ
    torch.testing.assert_close(run(model, "balanced"), whole, rtol=1e-4, atol=1e-5)


def test_cancel_raises():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run(make_model(), "best", cancel=token)


def test_bad_requests_are_clear_errors():
    model = make_model(teacher=False)
    with pytest.raises(ConfigError, match="vocals"):
        run(model, "fast", instruments=("vocals",))
    with pytest.raises(ConfigError, match="teacher"):
        run(model, "reference")
    with pytest.raises(ValueError, match="multiple"):
        run(model, "draft", mix=torch.zeros(1, get_config("tiny").hop + 3))
    config = get_config("tiny")
    with pytest.raises(ConfigError, match="configuration"):
        HybridModel(UNet(config), UNet(config), PRESETS)  # student not noise-conditioned


def test_to_moves_and_reports_the_device():
    model = make_model()
    assert model.to("cpu") is model
    assert model.device == torch.device("cpu")


# -- issue 16 case 7: silence in, silence out ------------------------------------------------


@pytest.mark.parametrize("preset", ["draft", "fast", "best", "reference"])
def test_silence_in_gives_silence_out(preset):
    """The networks' biases answer silence with a fixed pattern; the separator must not."""
    model = make_model()
    with torch.inference_mode():
        assert model.extractor(torch.zeros(1, 1, LENGTH), torch.tensor([0])).abs().max() > 1e-3
    mix = torch.zeros(2, LENGTH)
    mix[1, 100] = 1e-7  # digital silence, and next to it one quiet click
    stems = run(model, preset, mix=mix)
    assert torch.count_nonzero(stems[0]) == 0
    assert stems[1].abs().max() < 10 ** (-90 / 20)


def test_quiet_segments_are_separated_scale_equivariantly():
    """Below the level floor, separate(a x) = a separate(x): a quiet passage is the same
    separation as a louder one, scaled (the bias response no longer dominates it)."""
    model = make_model()
    quiet = mixture() * 1e-2  # RMS 3e-3, below LEVEL_FLOOR_RMS
    a = run(model, "best", mix=quiet)
    b = run(model, "best", mix=quiet * 1e-3)
    torch.testing.assert_close(b, a * 1e-3, rtol=1e-4, atol=1e-9)
    loud = run(model, "draft", mix=mixture())
    with torch.inference_mode():  # louder than the floor: untouched
        direct = model.extractor(mixture()[:, None].repeat_interleave(3, 0),
                                 torch.tensor([0, 1, 3]).repeat(3))
    torch.testing.assert_close(loud.reshape(-1, LENGTH), direct[:, 0])


def test_a_mask_preset_rebuilds_the_stems_from_the_mixture():
    """mask=True: the preset's stems, then ratio_mask_resynthesis against the segments."""
    from core.ratio_mask import ratio_mask_resynthesis

    model = make_model()
    model.presets = {**PRESETS, "masked": Preset("masked", 0, 0.0, mask=True),
                     "masked2": Preset("masked2", 0, 0.0, views=2, mask=True)}
    mix = mixture(2)
    for plain, masked in (("draft", "masked"), ("draft2", "masked2")):
        if plain == "draft2":
            model.presets["draft2"] = Preset("draft2", 0, 0.0, views=2)
        expected = ratio_mask_resynthesis(run(model, plain, mix=mix), mix)
        torch.testing.assert_close(run(model, masked, mix=mix), expected)
    assert model.presets["masked"].passes_per_stem == 1
