"""A cheap quality score for an image sample, 0..1: sharpness (edge variance on a small grey copy), damped when
the image is nearly black or blown out. It ranks samples for review; it is not a verdict."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageFilter, ImageStat


def image_quality(path: Path) -> float | None:
    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            grey.thumbnail((256, 256))
            edges = ImageStat.Stat(grey.filter(ImageFilter.FIND_EDGES)).var[0]
            mean = ImageStat.Stat(grey).mean[0]
    except OSError:
        return None
    sharpness = edges / (edges + 100.0)
    exposure = 1.0 - abs(mean - 127.5) / 127.5
    return round(sharpness * (0.5 + 0.5 * exposure), 4)
