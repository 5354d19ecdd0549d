"""Finding and reading an Ultralytics data.yaml inside an extracted upload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.tree import UploadTree, folder_of, join, suffix_of

YAML_NAMES = ("data.yaml", "data.yml")
MAX_YAML_BYTES = 1024 * 1024
SPLIT_KEYS = ("train", "val", "test")


@dataclass(frozen=True)
class DataYaml:
    name: str  # its path in the upload
    folder: str  # the folder paths in it are relative to
    names: list[str] | None
    names_line: int | None
    splits: dict[str, list[str]] = field(default_factory=dict)  # "train"/"val"/"test" -> paths as written
    lines: dict[str, int] = field(default_factory=dict)  # top-level key -> its line


def _depth(name: str) -> int:
    return name.count("/")


def _is_data_yaml(name: str) -> bool:
    return name.rsplit("/", 1)[-1] in YAML_NAMES


def find_data_yaml(tree: UploadTree, log: ProblemLog, upload: str) -> str | None:
    """data.yaml (or data.yml) at the root or in the one top folder; failing that, the only .yaml file there."""
    shallow = [name for name in tree.files if _depth(name) <= 1]
    named = [name for name in shallow if _is_data_yaml(name)]
    for found in (named, [name for name in shallow if suffix_of(name) in (".yaml", ".yml")]):
        at_root = [name for name in found if _depth(name) == 0]
        candidates = at_root or found
        folders = {folder_of(name) for name in candidates}
        if len(folders) > 1:
            log.add(upload, None, f"several dataset files ({', '.join(candidates)}); keep one data.yaml at the root")
            return None
        if candidates:
            return min(candidates, key=lambda name: (not _is_data_yaml(name), name))
    return None


def _key_lines(text: str) -> dict[str, int]:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}


def _names(value: Any, file: str, line: int | None, log: ProblemLog) -> list[str] | None:
    if isinstance(value, dict):
        keys = list(value)
        if not all(isinstance(key, int) and not isinstance(key, bool) for key in keys) or sorted(keys) != list(
            range(len(keys))
        ):
            log.add(file, line, "names as a mapping must use the indices 0, 1, 2, ... as keys")
            return None
        value = [value[index] for index in range(len(keys))]
    if not isinstance(value, list):
        log.add(file, line, "names must be a list of class names or a mapping of index to name")
        return None
    names: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int | float) or not str(item).strip():
            log.add(file, line, f"class {index} has no usable name ({item!r})")
            return None
        names.append(str(item).strip())
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        log.add(file, line, f"class names are listed more than once: {', '.join(duplicates)}")
        return None
    return names


def _paths(value: Any) -> list[str] | None:
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list) and value and all(isinstance(item, str) and item.strip() for item in value):
        return [item.strip() for item in value]
    return None


def read_data_yaml(tree: UploadTree, name: str, log: ProblemLog) -> DataYaml | None:
    path = tree.path(name)
    if path.stat().st_size > MAX_YAML_BYTES:
        log.add(name, None, f"the dataset file is larger than {MAX_YAML_BYTES} bytes")
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
        lines = _key_lines(text)
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        log.add(name, None, "the dataset file is not UTF-8 text")
        return None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        log.add(name, mark.line + 1 if mark else None, f"not valid YAML ({error.problem or error.context})")
        return None
    except yaml.YAMLError as error:
        log.add(name, None, f"not valid YAML ({error})")
        return None
    if not isinstance(data, dict):
        log.add(name, None, "the dataset file must be a mapping (names, train, val, ...)")
        return None
    names = None
    if "names" in data:
        names = _names(data["names"], name, lines.get("names"), log)
    count = data.get("nc")
    if names is not None and count is not None and count != len(names):
        log.add(name, lines.get("nc"), f"nc is {count} but names lists {len(names)} classes")
    splits: dict[str, list[str]] = {}
    for key in SPLIT_KEYS:
        raw = data.get(key, data.get("valid") if key == "val" else None)
        if raw is None:
            continue
        paths = _paths(raw)
        if paths is None:
            log.add(name, lines.get(key), f"{key} must be a path or a list of paths")
            continue
        splits[key] = paths
    base = data.get("path")
    folder = folder_of(name)
    if isinstance(base, str) and base.strip():
        # Ultralytics' `path` is the dataset root; inside an upload it only counts when it names a folder there.
        candidate = join(folder, base)
        if candidate is not None and tree.has_folder(candidate):
            folder = candidate
    if "val" not in lines and "valid" in lines:
        lines["val"] = lines["valid"]
    return DataYaml(name=name, folder=folder, names=names, names_line=lines.get("names"), splits=splits, lines=lines)
