"""U-Net building blocks: shapes, fold layout, sampling alignment, residual identities."""

import pytest
import torch

from core.nn.blocks import (
    AttentionBlock,
    Downsample,
    Patcher,
    ResBlock,
    Unpatcher,
    Upsample,
    fold,
    group_norm,
    native_cpu_convolutions,
    unfold,
)


def test_fold_puts_consecutive_samples_in_channels_and_unfold_inverts_it():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    folded = fold(x, 4)
    assert folded.shape == (2, 12, 2)
    # channel i*p + j at step t = input channel i at sample t*p + j
    assert folded[1, 2 * 4 + 3, 1] == x[1, 2, 1 * 4 + 3]
    assert torch.equal(unfold(folded, 4), x)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_down_and_up_sampling_change_the_length_by_the_factor(factor):
    x = torch.randn(2, 5, 12 * factor)
    down = Downsample(5, 7, factor)
    assert down.conv.kernel_size == (2 * factor + 1,)
    y = down(x)
    assert y.shape == (2, 7, 12)
    assert Upsample(7, 5, factor)(y).shape == x.shape


def test_fresh_res_block_is_its_shortcut_and_film_acts_after_training():
    torch.manual_seed(0)
    same = ResBlock(8, 8, cond_features=6, groups=4)
    x, cond = torch.randn(3, 8, 20), torch.randn(3, 6)
    assert torch.equal(same(x, cond), x)  # zero-initialised second conv
    changing = ResBlock(4, 8, cond_features=6, groups=4)
    torch.testing.assert_close(changing(x[:, :4], cond), changing.shortcut(x[:, :4]))
    torch.nn.init.normal_(same.conv2.weight)
    torch.nn.init.normal_(same.film.weight)
    out_a = same(x, cond)
    out_b = same(x, torch.randn(3, 6))
    assert out_a.shape == (3, 8, 20)
    assert not torch.allclose(out_a, out_b)  # the conditioning vector matters


def test_group_norm_uses_a_divisor_of_the_channels():
    assert group_norm(2, 8).num_groups == 2
    assert group_norm(12, 8).num_groups == 6
    assert group_norm(1, 8).num_groups == 1


def test_attention_block_mixes_time_steps_and_keeps_the_shape():
    torch.manual_seed(0)
    block = AttentionBlock(16, heads=2, head_features=8, ff_multiplier=2, groups=4)
    x = torch.randn(2, 16, 10)
    assert torch.equal(block(x), x)  # zero-initialised output projections
    torch.nn.init.normal_(block.out.weight, std=0.1)
    y = block(x)
    assert y.shape == x.shape
    x2 = x.clone()
    x2[:, :, 9] += 1.0
    # a change at the last step moves the output at the first step (global attention)
    assert not torch.allclose(block(x2)[:, :, 0], y[:, :, 0])


def test_patcher_and_unpatcher_shapes():
    cond = torch.randn(2, 6)
    patcher = Patcher(1, 16, patch=4, cond_features=6, groups=4)
    h = patcher(torch.randn(2, 1, 32), cond)
    assert h.shape == (2, 16, 8)
    assert Unpatcher(16, 1, patch=4, cond_features=6, groups=4)(h, cond).shape == (2, 1, 32)
    with pytest.raises(ValueError, match="multiple"):
        patcher(torch.randn(2, 1, 30), cond)


def test_native_convolutions_give_the_same_result_and_restore_the_flag():
    conv = torch.nn.Conv1d(2, 2, 3, padding=1)
    x = torch.randn(2, 2, 4096)
    before = torch.backends.mkldnn.enabled
    reference = conv(x)
    with native_cpu_convolutions(x):
        assert not torch.backends.mkldnn.enabled
        native = conv(x)
    assert torch.backends.mkldnn.enabled == before
    torch.testing.assert_close(native, reference, rtol=1e-5, atol=1e-6)
