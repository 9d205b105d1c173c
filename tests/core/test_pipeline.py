import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from core.audio.high_band import HighBandAssigner
from core.audio.reader import probe
from core.errors import Cancelled
from core.instruments import INSTRUMENTS
from core.pipeline import SegmentRunner, StreamSettings, separate_stream
from core.progress import CancelToken
from tests.fakes import TEST_PRESETS, FilterBankModel

SMALL_BLOCKS = StreamSettings(block_frames=5000)


def run(path, model, preset="draft", settings=SMALL_BLOCKS, **kwargs):
    info = probe(path)
    mixes, stems = [], []
    frames = separate_stream(info, model, model.instruments, TEST_PRESETS[preset],
                             lambda m, s: (mixes.append(m), stems.append(s)),
                             settings=settings, **kwargs)
    return info, frames, np.concatenate(mixes), np.concatenate(stems)


@pytest.mark.parametrize("rate,channels,seconds", [(44100, 2, 1.3), (48000, 1, 0.7), (22050, 2, 0.5),
                                                   (8000, 1, 2.0), (44100, 1, 1 / 44100)])
def test_exact_length_and_identity_reconstruction(make_audio, rate, channels, seconds):
    path = make_audio(seconds=seconds, samplerate=rate, channels=channels, subtype="FLOAT")
    original, _ = sf.read(str(path), dtype="float64", always_2d=True)
    info, frames, mix, stems = run(path, FilterBankModel(segment_samples=2048, identity=True),
                                   high_band="residual")
    assert frames == info.frames == original.shape[0]
    assert mix.shape == original.shape and stems.shape == original.shape + (4,)
    np.testing.assert_array_equal(mix, original)
    if original.shape[0] > 1000:
        # the stems are the input band-limited to the model's 11 kHz band, sample-aligned
        expected = soxr.resample(soxr.resample(original, rate, 22050), 22050, rate)[: original.shape[0]]
        inner = slice(rate // 50, -rate // 50)
        for index in range(4):
            error = stems[inner, :, index] - expected[inner]
            assert np.sqrt(np.mean(error**2)) < 1e-4 * np.sqrt(np.mean(original[inner] ** 2))


def test_model_rate_identity_is_exact(make_audio):
    """At the model's own rate there is no resampling: identity gives the input to 1e-6."""
    path = make_audio(seconds=0.6, samplerate=22050, channels=2, subtype="FLOAT")
    original, _ = sf.read(str(path), dtype="float64", always_2d=True)
    _, _, _, stems = run(path, FilterBankModel(segment_samples=1024, identity=True))
    for index in range(4):
        np.testing.assert_allclose(stems[:, :, index], original, atol=1e-6)


def test_seed_reproduces_and_changes_the_render(make_audio):
    path = make_audio(seconds=0.5, samplerate=44100, channels=2)
    first = run(path, FilterBankModel(), preset="best", seed=3)[3]
    again = run(path, FilterBankModel(), preset="best", seed=3)[3]
    other = run(path, FilterBankModel(), preset="best", seed=4)[3]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_cancel_is_checked_at_every_chunk(make_audio):
    path = make_audio(seconds=2.0, samplerate=22050, channels=1)
    model, token = FilterBankModel(segment_samples=1024), CancelToken()
    progress_seen = []

    def progress(fraction, message):
        progress_seen.append(fraction)
        if fraction > 0.2:
            token.cancel()

    with pytest.raises(Cancelled):
        run(path, model, settings=StreamSettings(block_frames=2048, max_positions=1),
            progress=progress, cancel=token)
    assert max(progress_seen) < 0.6


def test_progress_reaches_one(make_audio):
    path = make_audio(seconds=0.5)
    seen = []
    run(path, FilterBankModel(), progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_out_of_memory_halves_the_batch_then_moves_to_cpu(monkeypatch):
    model = FilterBankModel()
    model.max_batch = 4
    failures = iter([True, True, False])
    original = model.separate

    def flaky(*args, **kwargs):
        if next(failures):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "separate", flaky)
    messages = []
    runner = SegmentRunner(model, ("bass",), TEST_PRESETS["draft"], torch.Generator(),
                           CancelToken(), messages.append)
    out = runner(np.zeros((2, 4096), np.float32))
    assert out.shape == (2, 1, 4096)
    assert model.max_batch == 1 and len(messages) == 2 and "batches of 2" in messages[0]


def test_retry_after_out_of_memory_repeats_the_same_noise(monkeypatch):
    segments = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)

    def render(fail_first: bool):
        model = FilterBankModel()
        original, failures = model.separate, iter([fail_first, False])

        def flaky(*args, **kwargs):
            if next(failures):
                torch.randn(3, generator=args[3])  # a failed attempt may consume noise
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            return original(*args, **kwargs)

        model.separate = flaky
        runner = SegmentRunner(model, ("bass", "piano"), TEST_PRESETS["best"],
                               torch.Generator().manual_seed(9), CancelToken(), lambda m: None)
        return runner(segments)

    np.testing.assert_array_equal(render(True), render(False))


def test_assign_hands_the_whole_high_band_to_stems_that_claim_it(make_audio):
    """The identity model's four stems all claim the input: together they get its high band."""
    path = make_audio(seconds=1.0, samplerate=44100, channels=2, subtype="FLOAT")
    original, _ = sf.read(str(path), dtype="float64", always_2d=True)
    _, frames, mix, stems = run(path, FilterBankModel(segment_samples=2048, identity=True), high_band="assign")
    assert frames == original.shape[0] and stems.shape == original.shape + (4,)
    np.testing.assert_array_equal(mix, original)

    def high(x):
        spectrum = np.fft.rfft(x, axis=0)
        spectrum[np.fft.rfftfreq(x.shape[0], 1 / 44100) < 11025] = 0
        return np.fft.irfft(spectrum, n=x.shape[0], axis=0)[4410:-4410]

    target = high(original)
    error = high(stems.sum(-1)) - target
    assert np.sum(error**2) < 1e-3 * np.sum(target**2)
    shares = [np.sum(high(stems[:, :, i]) ** 2) / np.sum(target**2) for i in range(4)]
    np.testing.assert_allclose(shares, 1 / 16, rtol=0.05)  # equal claims: a quarter of the amplitude each


def test_at_a_high_rate_the_stems_flow_in_pieces_of_about_a_read_block(make_audio):
    """Issue 32 case 4: the stems of a whole model segment went up to the file's rate,
    through the high band and to the sink at once, so memory grew with the rate (3.9 GB
    for 6 s at 768 kHz). Now every piece is about one read block, whatever the rate."""
    rate, block, segment = 384000, 2048, 16384
    path = make_audio(seconds=1.0, samplerate=rate, channels=2, subtype="PCM_24")
    original, _ = sf.read(str(path), dtype="float64", always_2d=True)
    sizes = []
    frames = separate_stream(probe(path), FilterBankModel(segment_samples=segment), INSTRUMENTS,
                             TEST_PRESETS["draft"], lambda mix, stems: sizes.append(mix.shape[0]),
                             settings=StreamSettings(block_frames=block))
    assert frames == sum(sizes) == original.shape[0]
    frame = HighBandAssigner(rate, 2, 4).size  # the high band holds back at most one frame
    assert max(sizes) <= block + frame < segment * 0.875 * rate / 22050 / 5  # a fifth of a segment's hop
