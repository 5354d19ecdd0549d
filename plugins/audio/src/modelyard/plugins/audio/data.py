"""A dataset version as the trainer writes it for audio_classify (`<split>/<class name>/<clip>.wav` beside a
data.yaml with path/train/val/names) turned into log-mel feature arrays, computed once with the shared features.

Clips that cannot be used stop the run with one message naming how many and the first few: a clip that is not a
PCM WAV, or one at another sample rate than the configured one (training never resamples, like the edge).
Clips in `_unlabeled` (samples without a class) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from modelyard.plugins.audio.features import FeatureParams, WavError, WrongSampleRate, wav_features

WAV_SUFFIXES = (".wav", ".wave")
SHOWN_PROBLEMS = 5


class DatasetError(ValueError):
    """The dataset directory cannot be trained on; the message says why."""


@dataclass(frozen=True)
class Split:
    features: npt.NDArray[np.float32]  # (clips, 1, n_mels, frames)
    labels: npt.NDArray[np.int64]  # (clips,)
    names: tuple[str, ...]  # each clip's path relative to the dataset root

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class AudioDataset:
    class_names: tuple[str, ...]
    train: Split
    val: Split


def read_data_yaml(path: Path) -> tuple[Path, dict[str, str], tuple[str, ...]]:
    """(dataset root, {"train": folder, "val": folder}, class names by id) from data.yaml."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DatasetError(f"cannot read dataset file {path}: {error}") from error
    if not isinstance(data, dict):
        raise DatasetError(f"dataset file {path} is not a YAML mapping")
    names = data.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names or not all(isinstance(k, int) for k in names):
        raise DatasetError(f"dataset file {path} has no class names (names: {{0: first, 1: second, ...}})")
    if sorted(names) != list(range(len(names))):
        raise DatasetError(f"dataset file {path}: class ids must be 0..{len(names) - 1}, got {sorted(names)}")
    root = Path(str(data.get("path") or path.parent))
    if not root.is_absolute():
        root = path.parent / root
    folders = {split: str(data.get(split) or split) for split in ("train", "val")}
    return root, folders, tuple(str(names[i]) for i in range(len(names)))


def _load_split(
    root: Path, folder: str, class_names: tuple[str, ...], params: FeatureParams, problems: list[str]
) -> Split:
    features: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    names: list[str] = []
    base = root / folder
    for class_id, class_name in enumerate(class_names):
        class_folder = base / class_name
        if not class_folder.is_dir():
            continue
        for clip in sorted(p for p in class_folder.rglob("*") if p.is_file() and p.suffix.lower() in WAV_SUFFIXES):
            name = clip.relative_to(root).as_posix()
            try:
                features.append(wav_features(clip.read_bytes(), params))
            except (WavError, WrongSampleRate) as error:
                problems.append(f"{name}: {error}")
                continue
            labels.append(class_id)
            names.append(name)
    stacked = (
        np.stack(features)[:, None, :, :] if features else np.zeros((0, 1, *params.shape), dtype=np.float32)
    ).astype(np.float32, copy=False)
    return Split(features=stacked, labels=np.asarray(labels, dtype=np.int64), names=tuple(names))


def load_dataset(data_yaml: Path, params: FeatureParams) -> AudioDataset:
    """Every clip's features; DatasetError when a clip is unusable or there is nothing to train on."""
    if not data_yaml.is_file():
        raise DatasetError(f"dataset file {data_yaml} does not exist")
    root, folders, class_names = read_data_yaml(data_yaml)
    problems: list[str] = []
    train = _load_split(root, folders["train"], class_names, params, problems)
    val = _load_split(root, folders["val"], class_names, params, problems)
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        raise DatasetError(f"{len(problems)} clip(s) cannot be used: {shown}{more}")
    if not len(train):
        raise DatasetError(f"no training clips in {root / folders['train']} (<class name>/<clip>.wav)")
    return AudioDataset(class_names=class_names, train=train, val=val)
