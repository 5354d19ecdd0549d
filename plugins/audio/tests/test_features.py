"""The shared log-mel features, checked against independent computations: torch.stft and a direct DFT for the
spectrum, the closed-form power of a Hann-windowed sine, a scalar re-derivation of the HTK mel filters, and a tone's
loudest mel band sitting where the tone is."""

from __future__ import annotations

import math
import struct
import subprocess
import sys

import numpy as np
import pytest

from modelyard.plugins.audio.features import (
    FEATURES_VERSION,
    FeatureParams,
    WavError,
    WrongSampleRate,
    decode_wav,
    fit_length,
    log_mel,
    mel_centres_hz,
    mel_filterbank,
    power_spectrogram,
    wav_features,
)

from .conftest import tone, wav_bytes

PARAMS = FeatureParams(sample_rate=16000, n_fft=512, hop_length=160, n_mels=64, duration_s=1.0)


def test_pcm_of_every_width_decodes_to_the_same_samples() -> None:
    samples = np.array([0.0, 0.5, -0.5, 0.25, -1.0, 0.75])
    for width, step in ((1, 1 / 128), (2, 1 / 32768), (3, 1 / 2**23), (4, 1 / 2**31)):
        clip = decode_wav(wav_bytes(samples, rate=8000, width=width))
        assert clip.sample_rate == 8000 and clip.channels == 1
        np.testing.assert_allclose(clip.samples, samples, atol=step, err_msg=f"{8 * width}-bit")
        assert clip.samples.dtype == np.float32


def test_extreme_24_bit_values_keep_their_sign() -> None:
    raw = struct.pack("<3B3B3B", 0xFF, 0xFF, 0x7F, 0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF)  # 8388607, -8388608, -1
    wav = wav_bytes(np.zeros(3), width=3)
    clip = decode_wav(wav[: -len(raw)] + raw)
    np.testing.assert_allclose(clip.samples, [8388607 / 2**23, -1.0, -1 / 2**23])


def test_channels_are_averaged_to_mono() -> None:
    left, right = np.array([0.5, 0.5, -0.25]), np.array([-0.5, 0.0, -0.25])
    clip = decode_wav(wav_bytes(np.stack([left, right], axis=1), channels=2))
    assert clip.channels == 2
    np.testing.assert_allclose(clip.samples, [0.0, 0.25, -0.25], atol=1e-4)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the body is empty"),
        (b"ID3\x03\x00\x00 definitely an mp3", "not a PCM WAV file"),
        (
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00\x01\x00\x40\x1f\x00\x00\x00\x7d\x00\x00\x04\x00"
            b"\x20\x00data\x00\x00\x00\x00",
            "WAV format code 3 is not integer PCM",
        ),
        (wav_bytes(np.zeros(0)), "holds no audio"),
        (wav_bytes(np.zeros(100))[:-10], "truncated"),
    ],
)
def test_what_is_not_a_pcm_wav_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(WavError, match=reason):
        decode_wav(data)


def test_fit_length_keeps_the_middle_or_pads_the_end() -> None:
    samples = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(samples, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(fit_length(samples[:3], 5), [0, 1, 2, 0, 0])
    np.testing.assert_array_equal(fit_length(samples, 10), samples)


def test_power_spectrogram_equals_torch_stft() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 0.3, 4000).astype(np.float32)
    for n_fft, hop in ((512, 128), (400, 160), (256, 256)):
        ours = power_spectrogram(samples, n_fft, hop)
        spectrum = torch.stft(
            torch.from_numpy(samples.astype(np.float64)),
            n_fft=n_fft,
            hop_length=hop,
            window=torch.hann_window(n_fft, periodic=True, dtype=torch.float64),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        theirs = (spectrum.abs() ** 2).numpy().T  # (frames, bins)
        assert ours.shape == theirs.shape == (1 + 4000 // hop, n_fft // 2 + 1)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_one_frame_equals_a_direct_dft() -> None:
    """Frame 3 by the DFT's definition: X[k] = sum_n x[n] w[n] exp(-2 pi i k n / N), w the periodic Hann window."""
    n_fft, hop = 64, 16
    samples = np.random.default_rng(2).normal(0, 1, 400).astype(np.float32)
    padded = np.pad(samples.astype(np.float64), n_fft // 2, mode="reflect")
    frame = padded[3 * hop : 3 * hop + n_fft]
    n = np.arange(n_fft)
    window = [0.5 - 0.5 * math.cos(2 * math.pi * i / n_fft) for i in range(n_fft)]
    direct = [
        abs(
            sum(
                frame[i] * window[i] * complex(math.cos(a), -math.sin(a))
                for i, a in enumerate(2 * math.pi * k * n / n_fft)
            )
        )
        ** 2
        for k in range(n_fft // 2 + 1)
    ]
    np.testing.assert_allclose(power_spectrogram(samples, n_fft, hop)[3], direct, rtol=1e-9, atol=1e-9)


def test_a_bin_centred_sine_has_the_closed_form_power() -> None:
    """A sine of amplitude A on bin k puts |A * sum(w) / 2|^2 = (A N / 4)^2 into bin k of a Hann-windowed frame."""
    n_fft, hop, rate, k, amplitude = 512, 128, 16000, 40, 0.5
    hz = k * rate / n_fft
    samples = (amplitude * np.sin(2 * np.pi * hz * np.arange(rate) / rate)).astype(np.float32)
    power = power_spectrogram(samples, n_fft, hop)[5:-5]  # frames away from the reflected edges
    expected = (amplitude * n_fft / 4) ** 2
    np.testing.assert_allclose(power[:, k], expected, rtol=1e-5)
    assert (power.argmax(axis=1) == k).all()


def _htk_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def test_mel_filters_are_the_htk_triangles() -> None:
    """Each filter, recomputed with scalar math: 0 outside its edges, rising then falling linearly in Hz, peak 1."""
    params = FeatureParams(sample_rate=8000, n_fft=256, hop_length=64, n_mels=20, duration_s=0.5, f_min=100.0)
    bank = mel_filterbank(params)
    assert bank.shape == (20, 129)
    low, high = _htk_mel(100.0), _htk_mel(4000.0)
    edges = [700.0 * (10 ** ((low + (high - low) * i / 21) / 2595.0) - 1.0) for i in range(22)]
    for m in range(20):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        for b in range(129):
            f = b * 8000 / 256
            if f <= left or f >= right:
                want = 0.0
            elif f <= centre:
                want = (f - left) / (centre - left)
            else:
                want = (right - f) / (right - centre)
            assert bank[m, b] == pytest.approx(want, abs=1e-12), (m, b)
    np.testing.assert_allclose(mel_centres_hz(params), edges[1:-1])


@pytest.mark.parametrize("hz", [180.0, 440.0, 1000.0, 2500.0, 6000.0])
def test_a_tones_loudest_mel_band_is_the_band_centred_nearest_it(hz: float) -> None:
    features = wav_features(wav_bytes(tone(hz, rate=16000, seconds=1.0), rate=16000), PARAMS)
    assert features.shape == PARAMS.shape == (64, 1 + 16000 // 160)
    loudest = np.bincount(features.argmax(axis=0)).argmax()
    centres = mel_centres_hz(PARAMS)
    nearest = int(np.abs(centres - hz).argmin())
    assert abs(int(loudest) - nearest) <= 1, (hz, centres[loudest], centres[nearest])


def test_log_mel_is_decibels_of_the_mel_power_below_its_peak_down_to_80_db() -> None:
    samples = tone(700.0, rate=16000, seconds=1.0).astype(np.float32)
    power = power_spectrogram(samples, PARAMS.n_fft, PARAMS.hop_length)
    mel = mel_filterbank(PARAMS) @ power.T
    decibels = 10 * np.log10(np.maximum(mel, 1e-10))
    want = np.maximum(decibels - decibels.max(), -80.0)
    assert (decibels - decibels.max() < -80.0).any()  # the floor matters for a pure tone
    features = log_mel(samples, PARAMS)
    np.testing.assert_allclose(features, want, rtol=1e-5, atol=1e-4)
    assert features.max() == 0.0 and features.min() == -80.0
    np.testing.assert_allclose(log_mel(samples * 0.01, PARAMS), features, atol=1e-3)  # 40 dB softer: the same
    assert (log_mel(np.zeros(16000, dtype=np.float32), PARAMS) == 0.0).all()


def test_a_clip_at_another_rate_is_refused_naming_the_expected_rate() -> None:
    with pytest.raises(WrongSampleRate, match="sampled at 8000 Hz but this model expects 16000 Hz"):
        wav_features(wav_bytes(tone(440.0, rate=8000)), PARAMS)


def test_longer_and_shorter_clips_give_the_models_shape() -> None:
    for seconds in (0.3, 1.0, 2.5):
        clip = wav_bytes(tone(440.0, rate=16000, seconds=seconds), rate=16000)
        assert wav_features(clip, PARAMS).shape == PARAMS.shape


def test_parameters_round_trip_through_model_metadata_and_bad_ones_are_named() -> None:
    text = PARAMS.to_metadata()
    assert f'"version": {FEATURES_VERSION}' in text
    assert FeatureParams.from_metadata(text) == PARAMS
    with pytest.raises(ValueError, match="features version 99"):
        FeatureParams.from_metadata(text.replace(f'"version": {FEATURES_VERSION}', '"version": 99'))
    with pytest.raises(ValueError, match="hop_length must be between 1 and n_fft"):
        FeatureParams(sample_rate=16000, n_fft=256, hop_length=512, n_mels=40, duration_s=1.0)
    with pytest.raises(ValueError, match="n_mels must be between 1 and n_fft // 2 \\+ 1 = 65"):
        FeatureParams(sample_rate=16000, n_fft=128, hop_length=64, n_mels=80, duration_s=1.0)
    with pytest.raises(ValueError, match="fewer than n_fft"):
        FeatureParams(sample_rate=8000, n_fft=2048, hop_length=512, n_mels=40, duration_s=0.1)


def test_the_edge_side_imports_no_torch() -> None:
    code = (
        "import sys; import modelyard.plugins.audio.edge, modelyard.plugins.audio.features; "
        "import modelyard.plugins.audio.presets, modelyard.plugins.audio.framework; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
