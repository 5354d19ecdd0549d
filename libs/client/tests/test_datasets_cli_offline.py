"""`modelyard datasets` without a platform: where resume state lives, and what happens with no stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.client import datasets_cli, stackfile
from modelyard.client.cli import app


def test_resume_state_lives_beside_the_stack_when_there_is_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "project" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert datasets_cli.default_state_file() == tmp_path / "home" / ".cache" / "modelyard" / "uploads.json"

    root = tmp_path / "project" / stackfile.DEFAULT_ROOT
    root.mkdir()
    (root / stackfile.STACK_FILE).write_text('{"gateway": "http://127.0.0.1:1", "nats": "nats://x", "s3": "http://y"}')
    assert datasets_cli.default_state_file() == root / "uploads.json"


@pytest.mark.parametrize(
    "args",
    [
        ["datasets", "list"],
        ["datasets", "show", "00000000-0000-0000-0000-000000000000"],
        ["datasets", "create", "cams", "--task", "detect"],
    ],
)
def test_no_stack_exits_2_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("MODELYARD_GATEWAY_URL", "MODELYARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert "no stack found" in result.stderr and "MODELYARD_GATEWAY_URL" in result.stderr


def test_an_unreachable_gateway_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = {"MODELYARD_GATEWAY_URL": "http://127.0.0.1:9", "MODELYARD_TOKEN": "myk_x"}
    result = CliRunner().invoke(app, ["datasets", "list"], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    assert "cannot talk to the gateway at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.output
