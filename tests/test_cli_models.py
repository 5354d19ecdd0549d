"""`modelyard models ...` against a running platform with the registry: what works without a trained model."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from typer.testing import CliRunner, Result

from modelyard.client.cli import app

from .conftest import Platform


async def _cli(platform: Platform, *args: str) -> Result:
    env = {"MODELYARD_GATEWAY_URL": platform.url, "MODELYARD_TOKEN": platform.admin_key, "COLUMNS": "200"}
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result


async def test_models_list_on_an_empty_registry(platform: Platform) -> None:
    listed = await _cli(platform, "models", "list")
    assert listed.exit_code == 0, listed.output
    assert "none of 0 models" in listed.output

    as_json = await _cli(platform, "models", "list", "--json", "--module", "no-such-module")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"models": [], "total": 0}


async def test_models_show_an_unknown_id_prints_the_404_problem(platform: Platform) -> None:
    shown = await _cli(platform, "models", "show", str(uuid.uuid4()))
    assert shown.exit_code == 1
    assert "error 404" in shown.stderr and "Traceback" not in shown.output


async def test_models_approve_an_unknown_id_prints_the_404_problem(platform: Platform) -> None:
    approved = await _cli(platform, "models", "approve", str(uuid.uuid4()), "--reason", "looks good")
    assert approved.exit_code == 1
    assert "error 404" in approved.stderr and "Traceback" not in approved.output


async def test_models_keys_out_writes_the_public_key_pem(platform: Platform, tmp_path: Path) -> None:
    pem = tmp_path / "keys" / "pub.pem"
    written = await _cli(platform, "models", "keys", "--out", str(pem))
    assert written.exit_code == 0, written.output
    assert pem.read_text().startswith("-----BEGIN PUBLIC KEY-----")

    listed = await _cli(platform, "models", "keys")
    assert listed.exit_code == 0 and "-----BEGIN PUBLIC KEY-----" in listed.stdout


async def test_models_modules_and_settings(platform: Platform) -> None:
    modules = await _cli(platform, "models", "modules", "--json")
    assert modules.exit_code == 0, modules.output
    assert "modules" in json.loads(modules.stdout)

    settings = await _cli(platform, "models", "settings", "--json")
    assert settings.exit_code == 0, settings.output
    assert isinstance(json.loads(settings.stdout)["four_eyes"], bool)
