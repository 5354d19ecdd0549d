"""Whether a file is an image we can train on, decided by Pillow rather than by its name."""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# What Ultralytics trains on, and what every browser shows: JPEG, PNG, BMP, WebP. GIF, TIFF and the rest are refused.
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "WEBP": "image/webp"}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
UNSUPPORTED_IMAGE_SUFFIXES = frozenset({".gif", ".tif", ".tiff", ".heic", ".heif", ".dng", ".mpo", ".pfm", ".avif"})
PILLOW_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class NotAnImage(Exception):
    """The file is not a supported image; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int


def _reason(error: BaseException) -> str:
    if isinstance(error, UnidentifiedImageError):
        return "not a JPEG, PNG, BMP or WebP image"
    if isinstance(error, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return "too many pixels"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def probe_image(path: Path) -> ImageInfo:
    """Open and verify the image, then reopen it for its size (verify leaves the image unusable)."""
    formats = list(MEDIA_TYPES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=formats) as image:
                found = image.format or ""
                image.verify()
            with Image.open(path, formats=[found]) as image:
                width, height = image.size
    except PILLOW_ERRORS as error:
        raise NotAnImage(_reason(error)) from error
    if found not in MEDIA_TYPES or width < 1 or height < 1:
        raise NotAnImage("not a JPEG, PNG, BMP or WebP image")
    return ImageInfo(media_type=MEDIA_TYPES[found], width=width, height=height)


def not_an_image_message(name: str, reason: str) -> str:
    return f"file {name} is not an image ({reason})"
