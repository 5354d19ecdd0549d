"""The shared image pipeline (what training and the edge both feed the model) and the reading of a regress dataset
directory as the trainer writes it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modelyard.plugins.regress import preprocess
from modelyard.plugins.regress.data import DatasetError, read_dataset

from .conftest import make_dataset


def _encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def test_a_frame_becomes_a_normalised_float32_chw_array_of_imgsz() -> None:
    colour = (255, 0, 128)
    prepared = preprocess.prepare_bytes(_encoded(Image.new("RGB", (90, 30), colour)), 32)
    assert prepared.shape == (3, 32, 32) and prepared.dtype == np.float32 and prepared.flags.c_contiguous
    expected = (np.array(colour, dtype=np.float32) / 255 - preprocess.MEAN) / preprocess.STD
    assert np.allclose(prepared.reshape(3, -1).T, expected, atol=1e-6)  # uniform colour: every pixel the same


def test_grey_palette_and_alpha_images_are_read_as_rgb_and_match_their_rgb_twin() -> None:
    rgb = Image.new("RGB", (20, 20), (90, 90, 90))
    twins = [rgb.convert("L"), rgb.convert("P", palette=Image.Palette.ADAPTIVE), rgb.convert("RGBA")]
    reference = preprocess.prepare_bytes(_encoded(rgb), 32)
    for twin in twins:
        assert np.array_equal(preprocess.prepare_bytes(_encoded(twin), 32), reference), twin.mode


def test_exif_orientation_is_applied_so_a_rotated_phone_frame_reads_upright() -> None:
    upright = Image.new("RGB", (40, 20), (0, 0, 0))
    upright.paste((255, 255, 255), (0, 0, 20, 20))  # white left half
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # stored turned a quarter counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: turn a quarter clockwise to display
    decoded = preprocess.decode(_encoded(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert decoded.size == (40, 20)
    assert np.asarray(decoded)[10, 5].mean() > 200 and np.asarray(decoded)[10, 35].mean() < 50


def test_what_is_not_an_image_is_refused_with_the_reason() -> None:
    with pytest.raises(preprocess.NotAnImage, match="no bytes"):
        preprocess.decode(b"")
    with pytest.raises(preprocess.NotAnImage, match="not a decodable image"):
        preprocess.decode(b"GIF89a not really")
    with pytest.raises(preprocess.NotAnImage, match="not a decodable image"):
        preprocess.decode(_encoded(Image.new("RGB", (64, 64)))[:60])  # truncated


def test_an_image_larger_than_the_pixel_limit_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 100)
    with pytest.raises(preprocess.NotAnImage, match="larger than 100 pixels"):
        preprocess.decode(_encoded(Image.new("RGB", (11, 10))))


def test_the_health_check_frame_is_black_through_the_same_pipeline() -> None:
    assert np.allclose(preprocess.blank(32), ((0 - preprocess.MEAN) / preprocess.STD)[:, None, None])


def test_a_dataset_directory_reads_as_rated_frames_per_split(tmp_path: Path) -> None:
    data = make_dataset(tmp_path, train=5, val=2, unrated=3)
    dataset = read_dataset(data)
    assert (len(dataset.train.samples), dataset.train.unrated) == (5, 3)
    assert (len(dataset.val.samples), dataset.val.unrated) == (2, 0)
    assert all(0 <= s.target <= 1 and s.path.is_file() for s in dataset.train.samples + dataset.val.samples)
    assert read_dataset(tmp_path) == dataset  # the folder holding data.yaml works too


def _rewrite_labels(data: Path, rows: list[str]) -> None:
    (data.parent / "train" / "labels.csv").write_text("\n".join(["name,value,rating", *rows]) + "\n")


def test_the_value_column_is_the_target_when_a_frame_has_no_rating(tmp_path: Path) -> None:
    data = make_dataset(tmp_path, train=2, val=1)
    _rewrite_labels(data, ["train_000.png,0.25,", "train_001.png,0.1,0.75"])
    assert [s.target for s in read_dataset(data).train.samples] == [0.25, 0.75]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["train_000.png,,1.5"], "must lie in 0..1"),
        (["train_000.png,,high"], "is not a number"),
        (["missing.png,,0.5"], "listed but not in"),
        (["../val/val_000.png,,0.5"], "outside its split folder"),
        ([",,0.5"], "empty name"),
        (["train_000.png,,"], "no rated frames"),
    ],
)
def test_a_dataset_that_cannot_be_trained_on_says_where_and_why(tmp_path: Path, rows: list[str], message: str) -> None:
    data = make_dataset(tmp_path, train=2, val=1)
    _rewrite_labels(data, rows)
    with pytest.raises(DatasetError, match=message):
        read_dataset(data)


def test_a_missing_labels_file_or_column_is_named(tmp_path: Path) -> None:
    data = make_dataset(tmp_path, train=2, val=1)
    (tmp_path / "val" / "labels.csv").write_text("name,score\nval_000.png,0.5\n")
    with pytest.raises(DatasetError, match=r"missing column\(s\) value, rating"):
        read_dataset(data)
    (tmp_path / "val" / "labels.csv").unlink()
    with pytest.raises(DatasetError, match=r"labels\.csv is missing"):
        read_dataset(data)
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset(tmp_path / "nowhere" / "data.yaml")
