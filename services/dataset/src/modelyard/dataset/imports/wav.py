"""Whether a file is a WAV we can train on, decided by the stdlib `wave` module (and by reading every frame) rather
than by its name: uncompressed integer PCM (8, 16, 24 or 32 bits), 1 to 8 channels, a sample rate between 1 kHz
and 384 kHz, at least one frame and at most MAX_DURATION_S seconds, with every frame the header declares present."""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path

MEDIA_TYPE = "audio/wav"
WAV_SUFFIXES = frozenset({".wav", ".wave"})
# Audio we do not decode: named so that the user learns to convert them rather than wonder where they went.
UNSUPPORTED_AUDIO_SUFFIXES = frozenset(
    {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aif", ".aiff", ".aifc", ".amr", ".webm"}
)
MIN_RATE, MAX_RATE = 1_000, 384_000
MAX_CHANNELS = 8
SAMPLE_WIDTHS = (1, 2, 3, 4)  # bytes per sample
MAX_DURATION_S = 600.0
_READ_FRAMES = 1 << 16
WAVE_ERRORS = (wave.Error, EOFError, struct.error, ValueError, OSError)


class NotAWav(Exception):
    """The file is not a WAV we can use; the message says why."""


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    bits_per_sample: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def _reason(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, wave.Error) and text.startswith("unknown format"):
        # Python's wave reads format 1 only: 3 is IEEE float, 0xFFFE extensible, others are compressed codecs.
        code = text.rsplit(":", 1)[-1].strip()
        return f"WAV format code {code} is not integer PCM; save it as 16-bit PCM WAV"
    if isinstance(error, EOFError | struct.error):
        return "the file ends inside its header"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return text or type(error).__name__


def probe_wav(path: Path) -> WavInfo:
    """Open the WAV, check its format and read every frame; NotAWav says what is wrong."""
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            declared, compression = reader.getnframes(), reader.getcomptype()
            _check_format(channels, width, rate, declared, compression)
            frame_bytes = channels * width
            read = 0
            while chunk := reader.readframes(_READ_FRAMES):
                read += len(chunk)
    except NotAWav:
        raise
    except WAVE_ERRORS as error:
        raise NotAWav(_reason(error)) from error
    if read != declared * frame_bytes:
        raise NotAWav(f"the header declares {declared} frames but the file holds {read // frame_bytes} (truncated)")
    return WavInfo(sample_rate=rate, channels=channels, bits_per_sample=8 * width, frames=declared)


def _check_format(channels: int, width: int, rate: int, frames: int, compression: str) -> None:
    if compression != "NONE":
        raise NotAWav(f"compressed WAV ({compression}) is not supported; save it as PCM WAV")
    if not 1 <= channels <= MAX_CHANNELS:
        raise NotAWav(f"{channels} channels; 1 to {MAX_CHANNELS} are supported")
    if width not in SAMPLE_WIDTHS:
        raise NotAWav(f"{8 * width}-bit samples; 8, 16, 24 or 32-bit PCM is supported")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise NotAWav(f"sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    if frames < 1:
        raise NotAWav("the file holds no audio (0 frames)")
    if frames / rate > MAX_DURATION_S:
        raise NotAWav(f"{frames / rate:.0f} s long, more than the limit of {MAX_DURATION_S:.0f} s per clip")


def not_a_wav_message(name: str, reason: str) -> str:
    return f"file {name} is not a usable WAV ({reason})"
