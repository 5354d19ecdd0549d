"""The one image pipeline of the regress framework, shared by training and the edge (PIL and numpy only).

A frame is decoded with PIL (EXIF orientation applied, converted to RGB, alpha dropped), squashed to imgsz x imgsz
with PIL's bilinear filter (no letterbox: a frame's importance does not depend on its aspect ratio, and every
pixel stays in), scaled to 0..1 and normalised per channel with MEAN and STD, then laid out as float32 CHW.
Training and the edge call the same `prepare`, so the model sees the same numbers in both places; `PREPROCESS_ID`
names this pipeline and is written into every exported model, and the edge refuses a model made with another.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

PREPROCESS_ID = "rgb-squash-bilinear-meanstd-v1"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # per-channel, after scaling to 0..1
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MAX_PIXELS = 50_000_000  # larger images are refused before decoding (a decompression bomb, or not a frame)

F32Array = npt.NDArray[np.float32]


class NotAnImage(ValueError):
    """The bytes are not an image PIL can decode, or one too large to decode safely."""


def decode(data: bytes) -> Image.Image:
    """The image in `data` as an RGB PIL image, EXIF orientation applied."""
    if not data:
        raise NotAnImage("no bytes: send the image file's bytes")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise NotAnImage(f"image of {width}x{height} pixels is larger than {MAX_PIXELS} pixels")
            opened.load()
            image = ImageOps.exif_transpose(opened)
            return image if image.mode == "RGB" else image.convert("RGB")
    except NotAnImage:
        raise
    except Image.DecompressionBombError as error:
        raise NotAnImage(f"image too large to decode safely: {error}") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:  # truncated or corrupt files
        raise NotAnImage(f"not a decodable image ({len(data)} bytes): {error}") from error


def load(path: Path) -> Image.Image:
    """An image file, decoded exactly as `decode` decodes request bodies."""
    return decode(path.read_bytes())


def prepare(image: Image.Image, imgsz: int) -> F32Array:
    """The model input for one image: float32 (3, imgsz, imgsz), normalised."""
    if imgsz < 1:
        raise ValueError(f"imgsz must be positive, got {imgsz}")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    resized = rgb.resize((imgsz, imgsz), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32) / np.float32(255.0)
    normalised = (pixels - MEAN) / STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def prepare_bytes(data: bytes, imgsz: int) -> F32Array:
    """decode + prepare: what the edge does with a request body."""
    return prepare(decode(data), imgsz)


def blank(imgsz: int) -> F32Array:
    """The input for an all-black frame (the edge's health check)."""
    return prepare(Image.new("RGB", (imgsz, imgsz)), imgsz)
