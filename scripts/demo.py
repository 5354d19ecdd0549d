"""`make demo`: a throw-away stack in a temporary folder, the thin flow walked through it, then everything stopped.

What it shows: health and version; a dataset created and read back over HTTP; the DatasetCreated event read off
the DATASETS stream; bad input answered with ProblemDetails; a missing key answered with 401; a new user and key.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from rich.console import Console

from modelyard.client import devstack, stackfile
from modelyard.client.api import ApiError, ModelyardClient
from modelyard.client.events import tail
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.identity import Role
from modelyard.contracts.envelope import Event

out = Console(highlight=False, soft_wrap=True)


async def walk(info: stackfile.StackInfo, token: str) -> None:
    async with ModelyardClient(info.gateway, token) as api:
        out.print(f"[bold]1. health[/]   {(await api.health()).model_dump()}")
        out.print(f"[bold]2. version[/]  {(await api.version()).model_dump()}")
        dataset = await api.create_dataset(
            DatasetCreate(name="parking-lot cars", task=Task.DETECT, ai_module="vehicles", description="camera 3")
        )
        out.print(f"[bold]3. POST /api/v1/datasets[/] → 201 id={dataset.id} status={dataset.status.value}")
        again = await api.get_dataset(dataset.id)
        out.print(f"[bold]4. GET  /api/v1/datasets/{dataset.id}[/] → 200 name={again.name!r}")
        async for subject, event in tail(info.nats, "dataset.>", from_start=True, limit=1):
            shown = event.model_dump_json() if isinstance(event, Event) else repr(event)
            out.print(f"[bold]5. event on {subject}[/]: {shown}")
        bad = await api.raw("POST", "/api/v1/datasets", json={"name": "", "task": "juggle"})
        out.print(f"[bold]6. bad input[/] → {bad.status_code} {bad.headers['content-type']}")
        out.print(json.dumps(bad.json(), indent=2))
    async with ModelyardClient(info.gateway) as anonymous:
        try:
            await anonymous.create_dataset(DatasetCreate(name="x", task=Task.DETECT))
        except ApiError as exc:
            out.print(f"[bold]7. no API key[/] → {exc.problem.status} {exc.problem.detail}")
    async with ModelyardClient(info.gateway, token) as api:
        user = await api.create_user("ann", Role.ANNOTATOR)
        out.print(
            f"[bold]8. POST /api/v1/users[/] → {user.name} ({user.role.value}), key shown once: {user.api_key[:16]}…"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="modelyard-demo-") as tmp:
        stack = devstack.DevStack(Path(tmp) / ".modelyard", gateway_port=devstack.pick_gateway_port(0))
        try:
            with out.status("starting nats-server, PostgreSQL, S3, the dataset service and the gateway..."):
                info = stack.start()
            out.print(f"[green]stack up[/]: gateway {info.gateway}, nats {info.nats}, s3 {info.s3}")
            asyncio.run(walk(info, (stack.root / stackfile.TOKEN_FILE).read_text().strip()))
        finally:
            stack.stop()
            out.print("[green]stack stopped[/]; the demo left nothing running")


if __name__ == "__main__":
    main()
