"""Small synthetic datasets, made on the spot, for the demo, the tests and the benchmarks: a YOLO detect zip
(coloured boxes on noise, with exact labels), frame ratings as JSONL with their frames, a CSV time series, large
uncompressible YOLO zips for upload speed, and audio clips (sine tones, one frequency per class) as WAV zips."""

from __future__ import annotations

import array
import csv
import io
import json
import math
import random
import sys
import wave
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

CLASSES = ("car", "bus")


def _scene(rng: random.Random, size: int) -> tuple[Image.Image, list[tuple[int, float, float, float, float]]]:
    image = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    draw = ImageDraw.Draw(image)
    boxes = []
    for _ in range(rng.randint(1, 3)):
        cls = rng.randrange(len(CLASSES))
        w, h = rng.randint(size // 6, size // 2), rng.randint(size // 6, size // 2)
        x0, y0 = rng.randint(0, size - w), rng.randint(0, size - h)
        draw.rectangle((x0, y0, x0 + w, y0 + h), fill=((200, 40, 40), (40, 40, 200))[cls])
        boxes.append((cls, (x0 + w / 2) / size, (y0 + h / 2) / size, w / size, h / size))
    return image, boxes


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def detect_zip(path: Path, *, train: int = 8, val: int = 2, size: int = 64, seed: int = 0) -> Path:
    """An Ultralytics detect dataset: data.yaml, images/{train,val}, labels/{train,val}."""
    rng = random.Random(seed)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.yaml", f"path: .\ntrain: images/train\nval: images/val\nnames: {list(CLASSES)}\n")
        for split, count in (("train", train), ("val", val)):
            for i in range(count):
                image, boxes = _scene(rng, size)
                zf.writestr(f"images/{split}/{split}_{i:04d}.png", _png(image))
                lines = [f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in boxes]
                zf.writestr(f"labels/{split}/{split}_{i:04d}.txt", "\n".join(lines) + "\n")
    return path


def bulk_detect_zip(path: Path, target_bytes: int, *, side: int = 1024, seed: int = 0) -> Path:
    """A detect dataset of about `target_bytes`: noise BMP images stored uncompressed, one box each."""
    rng = random.Random(seed)
    per_image = side * side * 3 + 54
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("data.yaml", f"path: .\ntrain: images/train\nval: images/val\nnames: {list(CLASSES)}\n")
        for i in range(max(5, target_bytes // per_image)):
            image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
            out = io.BytesIO()
            image.save(out, format="BMP")
            split = "val" if i % 5 == 4 else "train"
            zf.writestr(f"images/{split}/bulk_{i:05d}.bmp", out.getvalue())
            zf.writestr(f"labels/{split}/bulk_{i:05d}.txt", "0 0.5 0.5 0.25 0.25\n")
    return path


def ratings_zip(path: Path, *, frames: int = 6, size: int = 48, seed: int = 0) -> Path:
    """Frame-importance ratings (seed 000): annotations.jsonl plus the frames it rates."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(frames):
            image, _ = _scene(rng, size)
            zf.writestr(f"frames/frame{i:03d}.png", _png(image))
            lines.append(
                json.dumps(
                    {
                        "frame_path": f"frames/frame{i:03d}.png",
                        "rating": round(rng.random(), 3),
                        "source_camera": "cam-1",
                        "captured_at": (start + timedelta(seconds=i)).isoformat(),
                    }
                )
            )
        zf.writestr("annotations.jsonl", "\n".join(lines) + "\n")
    return path


def series_csv(path: Path, *, rows: int = 100, seed: int = 0) -> Path:
    """A time series (seed 004): a timestamp column and two value columns."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "temperature", "load"])
        for i in range(rows):
            writer.writerow(
                [(start + timedelta(minutes=i)).isoformat(), round(20 + rng.gauss(0, 2), 3), rng.randint(0, 100)]
            )
    return path


AUDIO_CLASSES = ("low", "mid", "high")


def tone_hz(index: int) -> float:
    """The tone of class `index` in audio_zip: 250 Hz doubling per class (250, 500, 1000, ...)."""
    return 250.0 * 2.0**index


def _tone_wav(rng: random.Random, hz: float, seconds: float, rate: int, noise: float) -> bytes:
    """A 16-bit mono PCM WAV: a sine (frequency within 3 % of `hz`, random phase and level) plus Gaussian noise."""
    frequency = hz * rng.uniform(0.97, 1.03)
    phase, level = rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 0.6)
    step = 2 * math.pi * frequency / rate
    samples = array.array("h")
    for i in range(max(1, round(seconds * rate))):
        value = level * math.sin(phase + step * i) + rng.gauss(0.0, noise)
        samples.append(max(-32767, min(32767, round(value * 32767))))
    if sys.byteorder == "big":  # WAV is little-endian
        samples.byteswap()
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()


def audio_zip(
    path: Path,
    *,
    classes: tuple[str, ...] | list[str] = AUDIO_CLASSES,
    per_class: int = 8,
    seconds: float = 1.0,
    rate: int = 16_000,
    val_per_class: int = 0,
    noise: float = 0.02,
    seed: int = 0,
) -> Path:
    """Labelled audio clips (seed 003) for kind audio_zip: `<class>/<class>_NNN.wav`, or, with val_per_class,
    `train/<class>/...` and `val/<class>/...`. Class i is a tone of about tone_hz(i) with a little noise; every clip
    differs (its own frequency jitter, phase, level and noise), so none is a duplicate of another."""
    top = tone_hz(len(classes) - 1) * 1.03
    if top >= rate / 2:
        raise ValueError(f"{len(classes)} classes need tones up to {top:.0f} Hz: a rate of {rate} Hz cannot hold them")
    rng = random.Random(seed)
    splits = [("train/", per_class), ("val/", val_per_class)] if val_per_class else [("", per_class)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for prefix, count in splits:
            for index, name in enumerate(classes):
                for i in range(count):
                    clip = _tone_wav(rng, tone_hz(index), seconds, rate, noise)
                    zf.writestr(f"{prefix}{name}/{name}_{i:03d}.wav", clip)
    return path
