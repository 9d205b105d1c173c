import numpy as np
import pytest

from core.audio.overlap_add import OverlapAdd, crossfade_window, overlap_add


def identity_and_double(segments):
    return np.stack([segments, 2 * segments], axis=1)


@pytest.mark.parametrize("length", [1, 100, 1023, 1024, 1025, 4000, 12345])
@pytest.mark.parametrize("positions", [1, 3])
@pytest.mark.parametrize("margin", [0, 256])
def test_identity_model_reconstructs_input(length, positions, margin):
    signal = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    out = overlap_add(identity_and_double, signal, segment=1024, overlap=256, outputs=2,
                      max_positions=positions, margin=margin)
    assert out.shape == (2, 2, length)
    np.testing.assert_allclose(out[:, 0], signal, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], 2 * signal, atol=1e-6)


@pytest.mark.parametrize("margin", [0, 300])
def test_streaming_blocks_of_any_size_match_one_shot(margin):
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((1, 20000)).astype(np.float32)
    engine = OverlapAdd(identity_and_double, 1024, 300, channels=1, outputs=2, max_positions=2, margin=margin)
    parts, start = [], 0
    while start < signal.shape[1]:
        size = int(rng.integers(1, 3000))
        parts.append(engine.push(signal[:, start : start + size]))
        start += size
    parts.append(engine.finish())
    out = np.concatenate(parts, axis=2)
    np.testing.assert_allclose(out[:, 0], signal, atol=1e-6)


def test_output_is_released_while_streaming():
    """Memory stays bounded: finished samples come out before the end of the input."""
    engine = OverlapAdd(identity_and_double, 1000, 200, channels=1, outputs=2)
    released = sum(engine.push(np.zeros((1, 1000), np.float32)).shape[2] for _ in range(50))
    assert released >= 50 * 1000 - 1000
    assert engine._acc.shape[2] <= 1000 and engine._input.shape[1] <= 1000


def test_segments_crossfade_between_different_outputs():
    """A model whose output depends on the segment blends smoothly across the overlap."""
    calls = iter(range(100))

    def constant_per_call(segments):
        value = float(next(calls))
        return np.full((segments.shape[0], 1, segments.shape[1]), value)

    out = overlap_add(constant_per_call, np.zeros((1, 3000), np.float32), 1000, 400, 1)[0, 0]
    assert out[0] == 0.0 and out[599] == 0.0  # only the first segment covers these
    ramp = out[600:1000]
    assert np.all(np.diff(ramp) >= 0) and 0 < ramp[200] < 1


def test_window_is_positive_and_flat_in_the_middle():
    window = crossfade_window(1000, 250)
    assert window.min() > 0
    assert np.all(window[250:750] == 1.0)


def test_bad_overlap_rejected():
    with pytest.raises(ValueError):
        OverlapAdd(identity_and_double, 100, 100, 1, 2)


def test_a_margin_keeps_the_signals_ends_off_the_segments_edges():
    """Issue 16 case 7: a model's output is worst at a segment's edge (zero padding); with
    a margin the first and last samples are ``margin`` samples inside a segment."""

    def distance_to_edge(segments):
        position = np.arange(segments.shape[1])
        distance = np.minimum(position, segments.shape[1] - 1 - position).astype(np.float64)
        return np.broadcast_to(distance, (segments.shape[0], 1, segments.shape[1]))

    signal = np.zeros((1, 5000), np.float32)
    plain = overlap_add(distance_to_edge, signal, 1000, 200, 1)[0, 0]
    framed = overlap_add(distance_to_edge, signal, 1000, 200, 1, margin=200)[0, 0]
    assert plain[0] == 0.0
    assert framed.shape == (5000,) and framed[0] >= 199 and framed[-1] >= 199
    assert overlap_add(distance_to_edge, np.zeros((1, 0), np.float32), 1000, 200, 1, margin=200).shape == (1, 1, 0)


class _SegmentDependentModel:
    """A stand-in with Demucs' model attributes whose output depends on the whole segment
    (its mean, a ramp, a running sum), so any difference in chunking shows."""

    samplerate, segment, sources = 100, 10, ["a", "b"]
    length = 1000

    def valid_length(self, length):
        return self.length

    def __call__(self, x):  # (B, C, L) -> (B, 2, C, L)
        import torch

        ramp = torch.linspace(0, 1, x.shape[-1])
        return torch.stack([x * ramp + x.mean(-1, keepdim=True), torch.cumsum(x, -1) / 100], 1)

    def to(self, device):
        return self

    def eval(self):
        return self


@pytest.mark.parametrize("length", [1, 300, 999, 1000, 1001, 1750, 4321])
@pytest.mark.parametrize("positions", [1, 3])
def test_triangle_window_with_centered_tail_matches_demucs_apply_model(length, positions):
    """The Demucs plan (triangle, hop int(0.75 L), centred tail) streamed in blocks of any
    size gives demucs.apply.apply_model(shifts=0, split=True, overlap=0.25)."""
    torch = pytest.importorskip("torch")
    apply = pytest.importorskip("demucs.apply")
    model = _SegmentDependentModel()
    segment = model.length
    mix = torch.from_numpy(np.random.default_rng(length).standard_normal((1, 2, length)).astype(np.float32))
    expected = apply.apply_model(model, mix, shifts=0, split=True, overlap=0.25)[0].numpy()  # (S, C, n)

    def stereo_segments(flat):  # rows are position-major: regroup the channel pairs
        pairs = torch.from_numpy(flat).reshape(-1, 2, segment)
        return model(pairs).permute(0, 2, 1, 3).reshape(-1, 2, segment).numpy()

    engine = OverlapAdd(stereo_segments, segment, segment - int(0.75 * segment), channels=2, outputs=2,
                        max_positions=positions, window="triangle", tail="centered")
    rng, parts, start = np.random.default_rng(0), [], 0
    while start < length:
        size = int(rng.integers(1, 700))
        parts.append(engine.push(mix[0, :, start : start + size].numpy()))
        start += size
    parts.append(engine.finish())
    out = np.concatenate(parts, axis=2).transpose(1, 0, 2)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-5)
