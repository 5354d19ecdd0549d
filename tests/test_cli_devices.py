"""`modelyard devices ...`, `deploy` and `deployments ...` against a running platform with distribution: what works
without an agent or a trained model."""

from __future__ import annotations

import asyncio
import json
import shlex
import uuid

from typer.testing import CliRunner, Result

from modelyard.client.cli import app

from .conftest import Platform


async def _cli(platform: Platform, *args: str) -> Result:
    env = {
        "MODELYARD_GATEWAY_URL": platform.url,
        "MODELYARD_NATS_URL": platform.nats_url,
        "MODELYARD_TOKEN": platform.admin_key,
        "COLUMNS": "200",
    }
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result


async def test_devices_list_with_no_devices(platform: Platform) -> None:
    listed = await _cli(platform, "devices", "list")
    assert listed.exit_code == 0, listed.output
    assert "none of 0 devices" in listed.output

    as_json = await _cli(platform, "devices", "list", "--json", "--label", "site=nowhere")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"devices": [], "total": 0}


async def test_devices_enroll_prints_the_token_and_the_agent_command(platform: Platform) -> None:
    enrolled = await _cli(platform, "devices", "enroll", "--label", "site=a", "--name", "edge-7")
    assert enrolled.exit_code == 0, enrolled.output
    lines = enrolled.stdout.splitlines()
    token = next(line.strip() for line in lines if line.strip().startswith("mye_"))
    assert "site=a" in enrolled.stdout
    command = next(shlex.split(line) for line in lines if "modelyard edge-agent" in line)
    assert command[:2] == ["modelyard", "edge-agent"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options == {
        "--state-dir": "./edge",
        "--name": "edge-7",
        "--gateway": platform.url,
        "--enrollment-token": token,
        "--nats-url": platform.nats_url,
    }


async def test_deployments_show_an_unknown_id_prints_the_404_problem(platform: Platform) -> None:
    shown = await _cli(platform, "deployments", "show", str(uuid.uuid4()))
    assert shown.exit_code == 1
    assert "error 404" in shown.stderr and "Traceback" not in shown.output

    listed = await _cli(platform, "deployments", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == {"deployments": [], "total": 0}


async def test_deploy_an_unknown_model_prints_the_problem(platform: Platform) -> None:
    deployed = await _cli(platform, "deploy", str(uuid.uuid4()), "--to", "all")
    assert deployed.exit_code == 1
    assert "error 404" in deployed.stderr and "Traceback" not in deployed.output


def test_deploy_needs_exactly_one_target() -> None:
    env = {"MODELYARD_GATEWAY_URL": "http://127.0.0.1:9", "MODELYARD_TOKEN": "unused", "COLUMNS": "200"}
    model = str(uuid.uuid4())
    for args in ([], ["--to", "all", "--to", "label:site=a"], ["--to", "everything"]):
        refused = CliRunner().invoke(app, ["deploy", model, *args], env=env)
        assert refused.exit_code == 2, refused.output
        assert "--to" in refused.output and "Traceback" not in refused.output
