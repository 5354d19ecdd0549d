"""Agent state: what a restarted agent must find again, and that a crash in the middle of a save loses nothing."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from modelyard.edge.state import (
    HANDLED_KEEP,
    AgentState,
    InstalledRelease,
    NothingToRevert,
    StateCorrupt,
    prune,
    release_dir,
)


def installed(state_dir: Path, counter: int, module: str = "people-counter") -> InstalledRelease:
    return InstalledRelease(
        counter=counter,
        version=str(counter),
        model_id=uuid4(),
        folder=release_dir(state_dir, module, counter),
        installed_at=datetime(2030, 1, counter, tzinfo=UTC),
    )


def test_missing_state_file_loads_as_an_empty_state(tmp_path: Path) -> None:
    state = AgentState.load(tmp_path / "state")

    assert state.modules == {} and state.device_id is None
    assert state.module("people-counter").active is None and state.module("people-counter").last_counter is None
    assert not state.handled("d-1")


def test_saved_state_round_trips_through_a_restart(tmp_path: Path) -> None:
    state = AgentState.load(tmp_path)
    state.device_id, state.org_id, state.name = "dev-42", uuid4(), "gate camera"
    state.activate("people-counter", installed(tmp_path, 3))
    latest = installed(tmp_path, 4)
    state.activate("people-counter", latest)
    state.mark_handled("d-1")
    state.save()

    again = AgentState.load(tmp_path)

    assert again == state
    assert again.module("people-counter").active == latest
    assert again.handled("d-1") and again.state_dir == tmp_path


def test_crash_during_save_leaves_the_previous_state_whole(tmp_path: Path) -> None:
    """A save cut short (the temporary file half written, never renamed) must not be what the next start reads,
    and the next save must still work."""
    state = AgentState.load(tmp_path)
    state.activate("people-counter", installed(tmp_path, 3))
    state.save()
    saved = (tmp_path / "state.json").read_bytes()
    (tmp_path / "state.json.tmp").write_bytes(saved[: len(saved) // 2])  # what a crash mid-write leaves

    after_crash = AgentState.load(tmp_path)

    assert after_crash == state
    after_crash.activate("people-counter", installed(tmp_path, 4))
    after_crash.save()
    assert AgentState.load(tmp_path).module("people-counter").last_counter == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_unreadable_state_file_is_an_error_not_an_empty_state(tmp_path: Path) -> None:
    """An empty state would forget last_counter and so accept a replayed old release."""
    (tmp_path / "state.json").write_text('{"modules": {"people-counter": {"last_counter": ')

    with pytest.raises(StateCorrupt):
        AgentState.load(tmp_path)


def test_activate_keeps_the_replaced_release_as_previous(tmp_path: Path) -> None:
    state = AgentState.load(tmp_path)
    first, second, third = installed(tmp_path, 3), installed(tmp_path, 4), installed(tmp_path, 5)

    assert state.activate("people-counter", first) is None
    assert state.activate("people-counter", second) == first
    assert state.activate("people-counter", third) == second

    module = state.module("people-counter")
    assert (module.active, module.previous, module.last_counter) == (third, second, 5)


def test_revert_restores_previous_and_keeps_the_highest_counter(tmp_path: Path) -> None:
    state = AgentState.load(tmp_path)
    first, second = installed(tmp_path, 3), installed(tmp_path, 4)
    state.activate("people-counter", first)
    state.activate("people-counter", second)

    dropped = state.revert("people-counter")

    module = state.module("people-counter")
    assert dropped == second
    assert (module.active, module.previous, module.last_counter) == (first, None, 4)
    with pytest.raises(NothingToRevert):
        state.revert("people-counter")


def test_revert_with_nothing_installed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NothingToRevert):
        AgentState.load(tmp_path).revert("people-counter")


def test_handled_deployments_are_remembered_up_to_the_limit(tmp_path: Path) -> None:
    state = AgentState.load(tmp_path)
    for n in range(HANDLED_KEEP + 5):
        state.mark_handled(f"d-{n}")
    state.mark_handled("d-10")  # already known: no duplicate, no reordering
    state.save()

    again = AgentState.load(tmp_path)

    assert len(again.handled_deployments) == HANDLED_KEEP
    assert not again.handled("d-4") and again.handled("d-5") and again.handled(f"d-{HANDLED_KEEP + 4}")


def test_prune_deletes_only_the_module_release_folders_not_kept(tmp_path: Path) -> None:
    for module, counter in [("people-counter", 1), ("people-counter", 2), ("people-counter", 3), ("plates", 1)]:
        folder = release_dir(tmp_path, module, counter)
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"x")
    stray = tmp_path / "releases" / "people-counter" / "notes.txt"
    stray.write_text("not a release")

    removed = prune(tmp_path, "people-counter", keep={2, 3})

    assert removed == [release_dir(tmp_path, "people-counter", 1)]
    assert sorted(os.listdir(tmp_path / "releases" / "people-counter")) == ["2", "3", "notes.txt"]
    assert release_dir(tmp_path, "plates", 1).is_dir()
    assert prune(tmp_path, "never-installed", keep=set()) == []


@pytest.mark.parametrize("module", ["", "..", "a/b", "../../etc"])
def test_module_names_that_are_not_one_folder_are_refused(tmp_path: Path, module: str) -> None:
    with pytest.raises(ValueError, match="folder name"):
        release_dir(tmp_path, module, 1)
