"""Log-mel features, in numpy only: the one implementation that training (in its dataset loader) and the edge (before
the ONNX model) both run, so that the model sees the same numbers in both places.

A clip goes through:
1. `decode_wav`: a PCM WAV (8, 16, 24 or 32-bit integer, any channel count) to float32 samples in [-1, 1], channels
   averaged to mono;
2. `fit_length`: exactly `duration_s * sample_rate` samples: a longer clip keeps its middle, a shorter one is padded
   with silence at the end;
3. `power_spectrogram`: a centred STFT (the clip padded by n_fft // 2 on both sides by reflection, as librosa and
   torch.stft(center=True) do), periodic Hann window, hop_length apart, |X|^2;
4. `mel_filterbank`: triangular filters evenly spaced on the HTK mel scale (mel = 2595 log10(1 + f / 700)) between
   f_min and f_max, unnormalised (each filter peaks at 1), applied to the power spectrum;
5. decibels relative to the clip's loudest value: 10 log10(max(mel power, 1e-10) / max over the clip), floored at
   -TOP_DB (librosa's power_to_db(S, ref=np.max, amin=1e-10, top_db=80)): values in [-80, 0], the same for a clip
   recorded louder or softer, and digital silence cannot push them to -100 dB.
The result is (n_mels, frames) with frames = 1 + samples // hop_length; the model takes it as (batch, 1, n_mels,
frames). Resampling is never done: a clip at another sample rate is refused (WrongSampleRate).
"""

from __future__ import annotations

import io
import json
import math
import wave
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

FEATURES_VERSION = 1  # bump when the computation changes: models record the version their features came from
AMIN = 1e-10  # power floor before the logarithm (-100 dB)
TOP_DB = 80.0  # dynamic range kept below a clip's loudest value
_WAVE_ERRORS = (wave.Error, EOFError, ValueError, OSError)

Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]


class WavError(ValueError):
    """The bytes are not a PCM WAV this module can decode; the message says why."""


class WrongSampleRate(ValueError):
    """A clip whose sample rate is not the one the features are computed at."""

    def __init__(self, found: int, expected: int) -> None:
        super().__init__(
            f"the clip is sampled at {found} Hz but this model expects {expected} Hz audio; resample it to"
            f" {expected} Hz (clips are never resampled here)"
        )
        self.found = found
        self.expected = expected


@dataclass(frozen=True)
class FeatureParams:
    """What the features depend on. Written into the ONNX model's metadata (`to_metadata`) so that the edge computes
    exactly what the model was trained on."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    duration_s: float
    f_min: float = 0.0
    f_max: float | None = None  # None: sample_rate / 2

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate < 1:
            problems.append(f"sample_rate must be positive, got {self.sample_rate}")
        if self.n_fft < 2:
            problems.append(f"n_fft must be at least 2, got {self.n_fft}")
        if not 1 <= self.hop_length <= self.n_fft:
            problems.append(f"hop_length must be between 1 and n_fft ({self.n_fft}), got {self.hop_length}")
        if not 1 <= self.n_mels <= self.n_fft // 2 + 1:
            problems.append(
                f"n_mels must be between 1 and n_fft // 2 + 1 = {self.n_fft // 2 + 1} (the FFT's frequency bins),"
                f" got {self.n_mels}"
            )
        if not math.isfinite(self.duration_s) or self.duration_s <= 0:
            problems.append(f"duration_s must be positive, got {self.duration_s}")
        elif self.sample_rate > 0 and self.num_samples < self.n_fft:
            problems.append(
                f"a clip of duration_s {self.duration_s} at {self.sample_rate} Hz has {self.num_samples} samples,"
                f" fewer than n_fft ({self.n_fft}); lengthen the clip or shorten n_fft"
            )
        if not 0.0 <= self.f_min < self.top_hz:
            problems.append(f"f_min must be at least 0 and below f_max ({self.top_hz} Hz), got {self.f_min}")
        if self.f_max is not None and self.f_max > self.sample_rate / 2:
            problems.append(f"f_max must be at most sample_rate / 2 = {self.sample_rate / 2} Hz, got {self.f_max}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def top_hz(self) -> float:
        return float(self.f_max) if self.f_max is not None else self.sample_rate / 2

    @property
    def num_samples(self) -> int:
        return round(self.duration_s * self.sample_rate)

    @property
    def frames(self) -> int:
        return 1 + self.num_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """(n_mels, frames): one clip's features."""
        return (self.n_mels, self.frames)

    def to_metadata(self) -> str:
        return json.dumps({"version": FEATURES_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_metadata(cls, text: str) -> FeatureParams:
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("feature parameters must be a JSON object")
        version = data.pop("version", None)
        if version != FEATURES_VERSION:
            raise ValueError(f"features version {version!r}; this code computes version {FEATURES_VERSION}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown feature parameters: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FeatureParams:
        """The parameters of a resolved preset (sample_rate, n_fft, hop_length, n_mels, duration_s)."""
        return cls(
            sample_rate=int(config["sample_rate"]),
            n_fft=int(config["n_fft"]),
            hop_length=int(config["hop_length"]),
            n_mels=int(config["n_mels"]),
            duration_s=float(config["duration_s"]),
        )


@dataclass(frozen=True)
class Clip:
    samples: Float32Array  # mono, float32 in [-1, 1]
    sample_rate: int
    channels: int  # of the file, before mixing down


def _pcm_to_float(data: bytes, width: int) -> Float32Array:
    raw = np.frombuffer(data, dtype=np.uint8)
    if width == 1:  # 8-bit WAV is unsigned
        return ((raw.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if width == 2:
        return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)
    if width == 3:
        triples = raw.reshape(-1, 3).astype(np.int32)
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return (value.astype(np.float32) / float(1 << 23)).astype(np.float32)
    if width == 4:
        return (np.frombuffer(data, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    raise WavError(f"{8 * width}-bit samples; 8, 16, 24 or 32-bit PCM is supported")


def decode_wav(data: bytes) -> Clip:
    """A PCM WAV file's bytes as mono float32 samples; WavError for anything else (float, compressed, truncated)."""
    if not data:
        raise WavError("the body is empty: send a WAV file's bytes")
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            declared = reader.getnframes()
            frames = reader.readframes(declared)
    except _WAVE_ERRORS as error:
        text = str(error)
        if isinstance(error, wave.Error) and text.startswith("unknown format"):
            text = f"WAV format code {text.rsplit(':', 1)[-1].strip()} is not integer PCM"
        elif isinstance(error, EOFError):
            text = "the file ends inside its header"
        raise WavError(f"not a PCM WAV file ({text or type(error).__name__})") from error
    if channels < 1 or rate < 1:
        raise WavError(f"not a usable WAV file ({channels} channels at {rate} Hz)")
    if declared < 1:
        raise WavError("the WAV file holds no audio (0 frames)")
    if len(frames) != declared * channels * width:
        raise WavError(f"the WAV file is truncated: its header declares {declared} frames")
    samples = _pcm_to_float(frames, width)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return Clip(samples=samples.astype(np.float32, copy=False), sample_rate=rate, channels=channels)


def fit_length(samples: Float32Array, length: int) -> Float32Array:
    """Exactly `length` samples: the middle of a longer clip, a shorter one padded with zeros at the end."""
    count = samples.shape[0]
    if count >= length:
        start = (count - length) // 2
        return samples[start : start + length]
    return np.concatenate([samples, np.zeros(length - count, dtype=samples.dtype)])


def hann_window(n_fft: int) -> Float64Array:
    """The periodic Hann window (as torch.hann_window and scipy.signal.get_window('hann') make it)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)


def power_spectrogram(samples: Float32Array, n_fft: int, hop_length: int) -> Float64Array:
    """|STFT|^2 of a centred, reflect-padded signal: (frames, n_fft // 2 + 1)."""
    pad = n_fft // 2
    if samples.shape[0] <= pad:
        raise ValueError(f"{samples.shape[0]} samples are too few for n_fft {n_fft} (reflection needs more than {pad})")
    padded = np.pad(samples.astype(np.float64), pad, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.fft.rfft(windows * hann_window(n_fft), n=n_fft, axis=1)
    power: Float64Array = spectrum.real**2 + spectrum.imag**2
    return power


def hz_to_mel(hz: Float64Array | float) -> Float64Array:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0), dtype=np.float64)


def mel_to_hz(mel: Float64Array | float) -> Float64Array:
    return np.asarray(700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0), dtype=np.float64)


@lru_cache(maxsize=16)
def _filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> Float64Array:
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank.setflags(write=False)
    return bank


def mel_filterbank(params: FeatureParams) -> Float64Array:
    """(n_mels, n_fft // 2 + 1) triangular filters on the HTK mel scale; filter m rises from edge m to a peak of 1
    at edge m + 1 and falls to 0 at edge m + 2, the n_mels + 2 edges evenly spaced in mel from f_min to f_max."""
    return _filterbank(params.sample_rate, params.n_fft, params.n_mels, float(params.f_min), params.top_hz)


def mel_centres_hz(params: FeatureParams) -> Float64Array:
    """The frequency at which each mel filter peaks."""
    return mel_to_hz(np.linspace(hz_to_mel(params.f_min), hz_to_mel(params.top_hz), params.n_mels + 2))[1:-1]


def log_mel(samples: Float32Array, params: FeatureParams) -> Float32Array:
    """(n_mels, frames) log-mel power in dB below the clip's peak (-80..0) of mono samples at params.sample_rate,
    fitted to duration_s first."""
    fitted = fit_length(samples, params.num_samples)
    power = power_spectrogram(fitted, params.n_fft, params.hop_length)
    mel = power @ mel_filterbank(params).T  # (frames, n_mels)
    decibels = 10.0 * np.log10(np.maximum(mel, AMIN))
    decibels = np.maximum(decibels - decibels.max(), -TOP_DB)
    return np.ascontiguousarray(decibels.T, dtype=np.float32)


def clip_features(clip: Clip, params: FeatureParams) -> Float32Array:
    """log_mel of a decoded clip; WrongSampleRate unless it is at params.sample_rate."""
    if clip.sample_rate != params.sample_rate:
        raise WrongSampleRate(clip.sample_rate, params.sample_rate)
    return log_mel(clip.samples, params)


def wav_features(data: bytes, params: FeatureParams) -> Float32Array:
    """WAV bytes to (n_mels, frames) features: WavError or WrongSampleRate when it cannot be done."""
    return clip_features(decode_wav(data), params)
