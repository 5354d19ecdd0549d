"""`modelyard orgs|users|keys|token` against a running platform (the CLI runs in a worker thread: the platform
serves from this test's event loop)."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from modelyard.client.cli import app

from .conftest import Platform


async def _cli(platform: Platform, *args: str, key: str | None = None) -> Result:
    env = {"MODELYARD_GATEWAY_URL": platform.url, "MODELYARD_TOKEN": key or platform.admin_key, "COLUMNS": "200"}
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def _secret(result: Result, prefix: str = "myk_") -> str:
    assert result.exit_code == 0, result.output
    return next(line for line in result.stdout.splitlines() if line.startswith(prefix))


async def test_an_org_its_admin_a_scoped_key_a_token_and_a_revocation(platform: Platform) -> None:
    admin_key = _secret(await _cli(platform, "orgs", "create", "harbour", "--plan", "enterprise", "--quiet"))
    listed = await _cli(platform, "orgs", "list")
    assert listed.exit_code == 0 and "harbour" in listed.stdout and "enterprise" in listed.stdout

    engineer = _secret(await _cli(platform, "users", "create", "eng", "--role", "ml_engineer", "-q", key=admin_key))
    made = await _cli(
        platform, "keys", "create", "ci", "--scope", "model:read", "--expires-in-days", "30", key=engineer
    )
    assert "model:read" in made.stdout and "until" in made.stdout and "shown once" in made.stdout
    scoped = _secret(made)
    refused = await _cli(platform, "datasets", "create", "x", "--task", "detect", key=scoped)
    assert refused.exit_code == 1 and "scopes do not include dataset:manage" in refused.output

    token = _secret(await _cli(platform, "token", "--expires-in", "120", "-q", key=engineer), prefix="ey")
    assert (await _cli(platform, "models", "list", key=token)).exit_code == 0
    refused = await _cli(platform, "users", "create", "x", "--role", "viewer", key=engineer)
    assert refused.exit_code == 1 and "403" in refused.output

    keys = await _cli(platform, "keys", "list", "--json", key=engineer)
    assert keys.exit_code == 0
    ci = next(line for line in keys.stdout.splitlines() if '"id"' in line)  # the newest key comes first
    key_id = ci.split('"')[3]
    revoked = await _cli(platform, "keys", "revoke", key_id, key=engineer)
    assert revoked.exit_code == 0 and "revoked key ci" in revoked.stdout
    gone = await _cli(platform, "models", "list", key=scoped)
    assert gone.exit_code == 1 and "401" in gone.output
