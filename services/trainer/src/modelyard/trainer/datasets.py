"""Dataset versions on the trainer's disk, cached by manifest sha256: a version trained twice is fetched once."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from modelyard.contracts.api.versions import Manifest
from modelyard.runtime.storage import ObjectStore
from modelyard.runtime.ultralytics_dataset import write_ultralytics_dataset

_locks: dict[str, asyncio.Lock] = {}


async def dataset_yaml(store: ObjectStore, cache: Path, manifest_key: str, manifest_sha256: str) -> Path:
    """The data.yaml of the version; written once per manifest (a finished marker guards half-written copies)."""
    root = cache / manifest_sha256
    done = root / ".complete"
    async with _locks.setdefault(manifest_sha256, asyncio.Lock()):
        if not done.exists():
            if root.exists():
                await asyncio.to_thread(shutil.rmtree, root)
            manifest = Manifest.model_validate_json(await store.get(manifest_key))
            await write_ultralytics_dataset(manifest, store, root)
            await asyncio.to_thread(done.write_text, manifest_sha256)
    return root / "data.yaml"
