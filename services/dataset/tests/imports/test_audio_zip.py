"""Audio classification datasets (kind audio_zip): a folder per class of PCM WAV clips, optionally under train/ and
val/; anything that is not a usable WAV is refused with its reason."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import SampleKind, Split
from modelyard.dataset.imports import ImportFailed, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder


def pcm_wav(frames: int = 800, rate: int = 8000, channels: int = 1, width: int = 2, fill: int = 7) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(bytes([fill]) * frames * channels * width)
    return buffer.getvalue()


def raw_wav(format_tag: int, data: bytes, rate: int = 8000, channels: int = 1, bits: int = 32) -> bytes:
    """A RIFF/WAVE file written by hand, for formats the wave module cannot write (IEEE float, say)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _problems(source: Path, workdir: Path, class_names: list[str] | None = None) -> dict[str, str]:
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.AUDIO_ZIP, source, workdir, task=Task.AUDIO_CLASSIFY, class_names=class_names or [])
    return {problem.file: problem.message for problem in caught.value.problems}


def test_class_folders_become_the_class_list_and_clips_audio_samples(make_zip: ZipBuilder, workdir: Path) -> None:
    source = make_zip(
        {
            "siren/a.wav": pcm_wav(frames=8000),
            "dog/b.wav": pcm_wav(frames=4000, rate=16000, channels=2, width=3),
            "dog/night/c.WAV": pcm_wav(),
            "README.txt": "clips from the yard",
        }
    )
    result = run_import(UploadKind.AUDIO_ZIP, source, workdir, task=Task.AUDIO_CLASSIFY, class_names=[])

    assert result.class_names == ["dog", "siren"]
    found = {(s.source_path, s.labels.class_id, s.split, s.kind, s.media_type) for s in result.samples}
    assert found == {
        ("siren/a.wav", 1, None, SampleKind.AUDIO, "audio/wav"),
        ("dog/b.wav", 0, None, SampleKind.AUDIO, "audio/wav"),
        ("dog/night/c.WAV", 0, None, SampleKind.AUDIO, "audio/wav"),
    }
    meta = {s.source_path: s.metadata.model_dump(exclude_none=True) for s in result.samples}
    assert meta["dog/b.wav"] == {
        "source_path": "dog/b.wav",
        "sample_rate": 16000,
        "channels": 2,
        "bits_per_sample": 24,
        "frames": 4000,
        "duration_s": 0.25,
    }
    assert meta["siren/a.wav"]["duration_s"] == 1.0
    assert all(s.file.is_file() and s.file.is_relative_to(workdir) for s in result.samples)


def test_train_val_and_test_folders_in_one_top_folder_keep_their_split(make_zip: ZipBuilder, workdir: Path) -> None:
    source = make_zip(
        {
            "yard/train/dog/1.wav": pcm_wav(fill=1),
            "yard/train/cat/2.wav": pcm_wav(fill=2),
            "yard/valid/dog/3.wav": pcm_wav(fill=3),
            "yard/test/cat/4.wav": pcm_wav(fill=4),
        }
    )
    result = run_import(UploadKind.AUDIO_ZIP, source, workdir, task=Task.AUDIO_CLASSIFY, class_names=[])
    assert result.class_names == ["cat", "dog"]
    assert {(s.source_path, s.labels.class_id, s.split) for s in result.samples} == {
        ("yard/train/dog/1.wav", 1, Split.TRAIN),
        ("yard/train/cat/2.wav", 0, Split.TRAIN),
        ("yard/valid/dog/3.wav", 1, Split.VAL),
        ("yard/test/cat/4.wav", 0, Split.VAL),
    }
    (test_clip,) = [s for s in result.samples if s.source_path.startswith("yard/test/")]
    assert test_clip.metadata.model_dump()["source_split"] == "test"


def test_one_top_folder_wraps_the_class_folders(make_zip: ZipBuilder, workdir: Path) -> None:
    source = make_zip({"clips/dog/1.wav": pcm_wav(fill=1), "clips/cat/2.wav": pcm_wav(fill=2)})
    result = run_import(UploadKind.AUDIO_ZIP, source, workdir, task=Task.AUDIO_CLASSIFY, class_names=[])
    assert result.class_names == ["cat", "dog"]


def test_a_single_class_folder_is_a_class_not_a_wrapper(make_zip: ZipBuilder, workdir: Path) -> None:
    source = make_zip({"dog/1.wav": pcm_wav(fill=1), "dog/2.wav": pcm_wav(fill=2)})
    result = run_import(UploadKind.AUDIO_ZIP, source, workdir, task=Task.AUDIO_CLASSIFY, class_names=["cat", "dog"])
    assert result.class_names == ["cat", "dog"]
    assert {s.labels.class_id for s in result.samples} == {1}


def test_the_datasets_class_list_is_kept_and_a_folder_outside_it_is_a_problem(
    make_zip: ZipBuilder, workdir: Path
) -> None:
    source = make_zip({"dog/1.wav": pcm_wav(fill=1), "cat/2.wav": pcm_wav(fill=2)})
    result = run_import(
        UploadKind.AUDIO_ZIP, source, workdir / "a", task=Task.AUDIO_CLASSIFY, class_names=["dog", "cat", "bird"]
    )
    assert result.class_names == ["dog", "cat", "bird"]
    assert {s.source_path: s.labels.class_id for s in result.samples} == {"dog/1.wav": 0, "cat/2.wav": 1}

    problems = _problems(source, workdir / "b", ["dog"])
    assert list(problems) == ["cat"]
    assert "class folder 'cat' is not in the dataset's class list (1 class: 0=dog)" in problems["cat"]


def test_files_that_are_not_usable_wavs_are_each_refused_with_the_reason(make_zip: ZipBuilder, workdir: Path) -> None:
    good = pcm_wav()
    source = make_zip(
        {
            "dog/ok.wav": good,
            "dog/text.wav": "not audio at all",
            "dog/float.wav": raw_wav(3, struct.pack("<4f", 0.0, 0.1, -0.1, 0.2)),
            "dog/alaw.wav": raw_wav(6, b"\x00" * 8, bits=8),
            "dog/truncated.wav": good[: len(good) // 2],
            "dog/empty.wav": pcm_wav(frames=0),
            "dog/slow.wav": pcm_wav(rate=500),
            "dog/wide.wav": pcm_wav(channels=9),
            "dog/song.mp3": b"ID3\x03\x00",
            "dog/header.wav": good[:30],
        }
    )
    problems = _problems(source, workdir)
    assert set(problems) == {
        "dog/text.wav",
        "dog/float.wav",
        "dog/alaw.wav",
        "dog/truncated.wav",
        "dog/empty.wav",
        "dog/slow.wav",
        "dog/wide.wav",
        "dog/song.mp3",
        "dog/header.wav",
    }
    assert "does not start with RIFF" in problems["dog/text.wav"]
    assert "WAV format code 3 is not integer PCM" in problems["dog/float.wav"]
    assert "WAV format code 6 is not integer PCM" in problems["dog/alaw.wav"]
    assert "header declares 800 frames but the file holds" in problems["dog/truncated.wav"]
    assert "0 frames" in problems["dog/empty.wav"]
    assert "sample rate 500 Hz is outside 1000..384000 Hz" in problems["dog/slow.wav"]
    assert "9 channels" in problems["dog/wide.wav"]
    assert ".mp3 files are not supported" in problems["dog/song.mp3"]
    assert "ends inside its header" in problems["dog/header.wav"]
    assert all(message.startswith("file dog/") for message in problems.values())
    assert list(workdir.iterdir()) == []  # nothing is kept from a failed import


def test_clips_outside_class_or_split_folders_are_problems(make_zip: ZipBuilder, workdir: Path) -> None:
    loose = make_zip({"dog/1.wav": pcm_wav(fill=1), "stray.wav": pcm_wav(fill=2)})
    assert "not in a class folder" in _problems(loose, workdir / "a")["stray.wav"]

    mixed = make_zip({"train/dog/1.wav": pcm_wav(fill=1), "cat/2.wav": pcm_wav(fill=2), "val/3.wav": pcm_wav(fill=3)})
    problems = _problems(mixed, workdir / "b")
    assert "outside the train/ and val/ folders" in problems["cat/2.wav"]
    assert "not in a class folder of its split folder" in problems["val/3.wav"]


def test_an_archive_without_clips_is_refused(make_zip: ZipBuilder, workdir: Path) -> None:
    source = make_zip({"notes.txt": "nothing here"})
    problems = _problems(source, workdir)
    assert "holds no .wav clips in class folders" in problems[source.name]


def test_archive_safety_applies_to_audio_zips(make_zip: ZipBuilder, workdir: Path, tmp_path: Path) -> None:
    source = make_zip({"dog/1.wav": pcm_wav(), "../evil.wav": pcm_wav(fill=9)})
    problems = _problems(source, workdir)
    assert "leaves the archive folder" in problems["../evil.wav"]
    assert not (tmp_path / "evil.wav").exists()

    bomb = make_zip({"dog/1.wav": pcm_wav(frames=2_000_000, fill=0)})  # 4 MB of zeros deflate about 1000:1
    problems = _problems(bomb, workdir)
    assert "compresses" in problems["dog/1.wav"]


@pytest.mark.parametrize(
    ("kind", "task"), [(UploadKind.AUDIO_ZIP, Task.CLASSIFY), (UploadKind.YOLO_ZIP, Task.AUDIO_CLASSIFY)]
)
def test_audio_zips_feed_audio_classify_datasets_only(
    make_zip: ZipBuilder, workdir: Path, kind: UploadKind, task: Task
) -> None:
    source = make_zip({"dog/1.wav": pcm_wav()})
    with pytest.raises(ImportFailed) as caught:
        run_import(kind, source, workdir, task=task, class_names=[])
    (problem,) = caught.value.problems
    assert f"kind '{kind}'" in problem.message and f"'{task}' dataset" in problem.message
