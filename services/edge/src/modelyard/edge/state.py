"""The agent's memory across restarts and power cuts, in `state_dir/state.json`: which release of each module is
active, which one to fall back to, the highest counter ever installed (so a replayed older release is refused even
after a revert), the device's identity, and the deployments already handled (so a redelivered message is a no-op).

The file is replaced atomically (temporary file, fsync, rename, fsync of the directory): after a crash it holds the
old state or the new one, never a mix. Mutations change memory only; `save()` writes, so several changes (activate
and mark_handled, say) land together or not at all. One agent process owns a state_dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

STATE_FILE = "state.json"
RELEASES_DIR = "releases"
HANDLED_KEEP = 1000


class StateCorrupt(Exception):
    """state.json exists but cannot be read. Never replaced by an empty state: that would forget `last_counter` and
    let an old release be replayed."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path


class NothingToRevert(Exception):
    """The module has no previous release to go back to."""

    def __init__(self, module: str) -> None:
        super().__init__(f"module {module!r} has no previous release")
        self.module = module


class InstalledRelease(BaseModel):
    """One release on this device: what it is and where its verified folder lies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    counter: int = Field(ge=1)
    version: str
    model_id: UUID
    folder: Path
    installed_at: AwareDatetime


class ModuleState(BaseModel):
    """`last_counter` is the highest counter successfully installed (activated) for the module. It never goes down:
    a revert, or a release that was installed and then failed, still counts, so the same or an older release is
    refused when offered again."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    active: InstalledRelease | None = None
    previous: InstalledRelease | None = None
    last_counter: int | None = None


class AgentState(BaseModel):
    """Everything in state.json. Build it with `load()`, which also remembers where to `save()`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: Literal[1] = 1
    device_id: str | None = None
    org_id: UUID | None = None
    name: str | None = None
    modules: dict[str, ModuleState] = Field(default_factory=dict)
    # oldest first; a list rather than a set because the order decides which ids are forgotten first
    handled_deployments: list[str] = Field(default_factory=list)
    _state_dir: Path | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, state_dir: Path) -> AgentState:
        """The saved state, or an empty one when nothing was saved yet. A leftover temporary file from a save
        interrupted by a crash is ignored: the previous state.json is still whole."""
        path = state_dir / STATE_FILE
        try:
            state = cls.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            state = cls()
        except ValidationError as exc:
            raise StateCorrupt(path, str(exc)) from exc
        state._state_dir = state_dir
        return state

    @property
    def state_dir(self) -> Path:
        if self._state_dir is None:
            raise RuntimeError("this AgentState was not loaded from a state_dir; use AgentState.load()")
        return self._state_dir

    def save(self) -> None:
        _write_atomically(self.state_dir / STATE_FILE, self.model_dump_json(indent=2).encode() + b"\n")

    def module(self, module: str) -> ModuleState:
        """The module's state, empty if nothing was ever installed for it."""
        return self.modules.get(module) or ModuleState()

    def activate(self, module: str, entry: InstalledRelease) -> InstalledRelease | None:
        """Make `entry` the module's active release; the one it replaces becomes `previous` and is returned (the
        release before that is no longer kept: `prune` may delete its folder)."""
        current = self.module(module)
        highest = entry.counter if current.last_counter is None else max(current.last_counter, entry.counter)
        self.modules[module] = ModuleState(active=entry, previous=current.active, last_counter=highest)
        return current.active

    def revert(self, module: str) -> InstalledRelease:
        """Go back to the previous release (the active one would not load or serve, say) and return the release
        that was dropped. `last_counter` stays: the dropped release is not to be installed again."""
        current = self.module(module)
        if current.previous is None or current.active is None:
            raise NothingToRevert(module)
        self.modules[module] = ModuleState(active=current.previous, previous=None, last_counter=current.last_counter)
        return current.active

    def handled(self, deployment_id: str) -> bool:
        return deployment_id in self.handled_deployments

    def mark_handled(self, deployment_id: str) -> None:
        """Remember the deployment, keeping the most recent HANDLED_KEEP: a redelivery comes soon after the
        original, and the counter check refuses an old release anyway."""
        if deployment_id in self.handled_deployments:
            return
        self.handled_deployments.append(deployment_id)
        del self.handled_deployments[:-HANDLED_KEEP]


def release_dir(state_dir: Path, module: str, counter: int) -> Path:
    """Where the release `counter` of `module` is unpacked: `state_dir/releases/<module>/<counter>/`."""
    return _module_dir(state_dir, module) / str(counter)


def prune(state_dir: Path, module: str, keep: set[int]) -> list[Path]:
    """Delete the module's release folders whose counter is not in `keep` (typically active, previous and any
    download in progress); returns what was deleted. Entries not named by a counter are left alone."""
    root = _module_dir(state_dir, module)
    if not root.is_dir():
        return []
    removed = []
    for entry in sorted(root.iterdir()):
        if entry.name.isdigit() and int(entry.name) not in keep and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


def _module_dir(state_dir: Path, module: str) -> Path:
    """Module names come from the network: one that is not a plain path component cannot name a folder here."""
    if module in {"", ".", ".."} or "/" in module or "\\" in module or "\x00" in module:
        raise ValueError(f"module name {module!r} cannot be used as a folder name")
    return state_dir / RELEASES_DIR / module


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
