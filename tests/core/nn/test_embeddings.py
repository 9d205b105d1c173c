"""Fourier noise-level embedding and label embedding."""

import math

import torch

from core.nn.embeddings import FourierEmbedding, LabelEmbedding


def test_fourier_embedding_is_cos_sin_of_fixed_frequencies():
    embedding = FourierEmbedding(8, scale=16.0)
    c = torch.tensor([-1.0, 0.0, 0.5])
    out = embedding(c)
    assert out.shape == (3, 8)
    phase = 2 * math.pi * c[:, None] * embedding.frequencies[None]
    torch.testing.assert_close(out, torch.cat([phase.cos(), phase.sin()], dim=1))
    # unit norm per half-pair: cos^2 + sin^2 = 1
    torch.testing.assert_close(out[:, :4] ** 2 + out[:, 4:] ** 2, torch.ones(3, 4))


def test_fourier_embedding_is_reproducible_and_saved_with_the_weights():
    a, b = FourierEmbedding(16), FourierEmbedding(16)
    assert torch.equal(a.frequencies, b.frequencies)
    assert "frequencies" in a.state_dict()
    assert not torch.equal(a.frequencies, FourierEmbedding(16, seed=1).frequencies)


def test_label_embedding_is_gelu_of_linear_one_hot():
    embedding = LabelEmbedding(4, 6)
    labels = torch.tensor([0, 3, 3])
    out = embedding(labels)
    expected = torch.nn.functional.gelu(embedding.linear.weight.T[labels] + embedding.linear.bias)
    torch.testing.assert_close(out, expected)
    assert torch.equal(out[1], out[2])
