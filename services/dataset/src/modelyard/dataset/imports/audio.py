"""Importing labelled audio clips (kind audio_zip, task audio_classify): a zip with a folder per class of WAV files.

Layout, at the root of the archive or in its one top folder:
- `<class>/<clip>.wav`: samples without a split (a version assigns one from its val_fraction and seed), or
- `train/<class>/...`, `val/<class>/...` (valid/ is read as val; test/ as val, marked with metadata
  source_split="test"): samples keep that split.
Clips may sit deeper inside their class folder; the class is the first folder. Every .wav must be integer PCM that
`wav.probe_wav` accepts; other audio formats (.mp3, .flac, ...) are problems, any other file is ignored.

The class list: a new dataset takes the class folders, sorted by name; a dataset that has classes keeps its list,
and a class folder outside it is a problem (an upload may fill any subset of the dataset's classes).
Each sample's metadata records sample_rate, channels, bits_per_sample, frames and duration_s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Labels, SampleKind, SampleMetadata, Split
from modelyard.dataset.imports.archive import extract_zip
from modelyard.dataset.imports.classes import describe_classes
from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.results import ImportedSample, ImportResult
from modelyard.dataset.imports.tree import UploadTree, join, suffix_of
from modelyard.dataset.imports.wav import (
    MEDIA_TYPE,
    UNSUPPORTED_AUDIO_SUFFIXES,
    WAV_SUFFIXES,
    NotAWav,
    not_a_wav_message,
    probe_wav,
)

SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "valid"), "test": ("test",)}
SPLITS = {"train": Split.TRAIN, "val": Split.VAL, "test": Split.VAL}
NO_SPLIT = ""


@dataclass(frozen=True)
class Clip:
    name: str  # its path in the upload
    key: str  # "train", "val", "test" or NO_SPLIT
    folder: str  # the class folder's name
    path: str  # the class folder's path in the upload


def _has_splits(tree: UploadTree, folder: str) -> bool:
    return any(tree.has_folder(join(folder, name) or "") for names in SPLIT_FOLDERS.values() for name in names)


def _root(tree: UploadTree) -> str:
    """Where the class (or split) folders are: the archive's root, or its one top folder when everything is in it
    and no clip lies directly inside it (then it wraps the dataset rather than being a class itself)."""
    if _has_splits(tree, ""):
        return ""
    tops = tree.top_folders()
    if len(tops) == 1 and not tree.root_files():
        top = tops[0]
        if _has_splits(tree, top) or all(name.count("/") >= 2 for name in tree.under(top)):
            return top
    return ""


def _sources(tree: UploadTree, root: str) -> list[tuple[str, str]]:
    """(split key, folder holding the class folders) pairs."""
    if not _has_splits(tree, root):
        return [(NO_SPLIT, root)]
    found = []
    for key, names in SPLIT_FOLDERS.items():
        for name in names:
            folder = join(root, name)
            if folder is not None and tree.has_folder(folder):
                found.append((key, folder))
    return found


def _outside_splits(tree: UploadTree, root: str, sources: list[tuple[str, str]], log: ProblemLog) -> None:
    """With split folders, a clip anywhere else would silently be left out: name it."""
    if sources == [(NO_SPLIT, root)]:
        return
    inside = tuple(folder + "/" for _, folder in sources)
    for name in tree.under(root):
        if suffix_of(name) in WAV_SUFFIXES and not name.startswith(inside):
            log.add(name, None, "clip is outside the train/ and val/ folders; move it into one of them")


def _clips(tree: UploadTree, sources: list[tuple[str, str]], log: ProblemLog) -> list[Clip]:
    clips: list[Clip] = []
    for key, folder in sources:
        for name in tree.under(folder):
            suffix = suffix_of(name)
            if suffix in UNSUPPORTED_AUDIO_SUFFIXES:
                log.add(name, None, f"file {name} is not a WAV ({suffix} files are not supported; convert to PCM WAV)")
            if suffix not in WAV_SUFFIXES:
                continue
            inside = (name[len(folder) + 1 :] if folder else name).split("/")
            if len(inside) < 2:
                where = "split folder" if key else "archive"
                message = f"clip is not in a class folder of its {where}; put it in a folder named for its class"
                log.add(name, None, message)
                continue
            path = f"{folder}/{inside[0]}" if folder else inside[0]
            clips.append(Clip(name=name, key=key, folder=inside[0], path=path))
    return clips


def _sample(tree: UploadTree, clip: Clip, class_id: int, log: ProblemLog) -> ImportedSample | None:
    path = tree.path(clip.name)
    try:
        info = probe_wav(path)
    except NotAWav as error:
        log.add(clip.name, None, not_a_wav_message(clip.name, str(error)))
        return None
    fields: dict[str, Any] = {
        "source_path": clip.name,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "bits_per_sample": info.bits_per_sample,
        "frames": info.frames,
        "duration_s": round(info.duration_s, 6),
    }
    if clip.key == "test":
        fields["source_split"] = "test"
    return ImportedSample(
        file=path,
        source_path=clip.name,
        kind=SampleKind.AUDIO,
        media_type=MEDIA_TYPE,
        labels=Labels(class_id=class_id),
        rating=None,
        split=SPLITS[clip.key] if clip.key else None,
        metadata=SampleMetadata.model_validate(fields),
    )


def import_audio(tree: UploadTree, upload: str, class_names: list[str]) -> ImportResult:
    log = ProblemLog()
    root = _root(tree)
    sources = _sources(tree, root)
    _outside_splits(tree, root, sources, log)
    clips = _clips(tree, sources, log)
    classes = list(class_names) if class_names else sorted({clip.folder for clip in clips})
    index = {name: position for position, name in enumerate(classes)}
    reported: set[str] = set()
    samples: list[ImportedSample] = []
    for clip in clips:
        if clip.folder not in index:
            if clip.path not in reported:
                reported.add(clip.path)
                known = describe_classes(classes)
                log.add(clip.path, None, f"class folder {clip.folder!r} is not in the dataset's class list ({known})")
            continue
        sample = _sample(tree, clip, index[clip.folder], log)
        if sample is not None:
            samples.append(sample)
    if not samples and not log:
        log.add(upload, None, "the archive holds no .wav clips in class folders (<class>/<clip>.wav)")
    log.raise_if_any()
    return ImportResult(samples=samples, rating_updates=[], class_names=classes)


def import_audio_zip(
    source: Path, workdir: Path, *, upload: str, task: Task, class_names: list[str], limits: ImportLimits
) -> ImportResult:
    return import_audio(extract_zip(source, workdir, limits, upload), upload, class_names)
