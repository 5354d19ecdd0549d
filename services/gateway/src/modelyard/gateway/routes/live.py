"""WebSocket `GET /ws/training/{job_id}` and SSE `GET /api/v1/training/jobs/{id}/events`: live job status."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from modelyard.contracts.api.training import JobRef
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint
from modelyard.gateway.live import job_updates
from modelyard.runtime import tasks
from modelyard.runtime.access import require

api = Api("training")
# The WebSocket route is registered here but not described: OpenAPI has no way to say "upgrade, then these
# messages"; the README documents its protocol, the SSE twin below is described.
routes = api.routes


@routes.get("/ws/training/{job_id}")
async def training_socket(request: web.Request) -> web.StreamResponse:
    require(context.principal(request), Permission.TRAINING_READ)
    updates = job_updates(request, request.match_info["job_id"])
    first = await anext(updates)  # the job exists and the caller may see it: else a 404 problem, before upgrading
    ws = web.WebSocketResponse()
    await ws.prepare(request)

    async def pings() -> None:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                with contextlib.suppress(ValueError):
                    if json.loads(message.data).get("event") == "ping":
                        await ws.send_json({"event": "pong"})

    listener = asyncio.create_task(pings())
    try:
        await ws.send_json(first)
        async for update in updates:
            await ws.send_json(update)
    finally:
        await updates.aclose()
        await tasks.stop(listener)
        await ws.close()
    return ws


@api.route(
    "GET",
    "/api/v1/training/jobs/{job_id}/events",
    "A job's status as server-sent events",
    request=JobRef,
    permission=Permission.TRAINING_READ,
    from_path={"job_id": "job_id"},
    content_type="text/event-stream",
    response_schema={"type": "string"},
)
async def training_events(request: web.Request, ep: Endpoint[JobRef, Any]) -> web.StreamResponse:
    """`connected`, then one `training_status` per recorded epoch, the current state, and every change until the
    job ends (the stream stays open while the job runs). The same messages as WebSocket `/ws/training/{job_id}`."""
    updates = job_updates(request, request.match_info["job_id"])
    first = await anext(updates)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        for update in (first,):
            await response.write(f"event: {update['event']}\ndata: {json.dumps(update)}\n\n".encode())
        async for update in updates:
            await response.write(f"event: {update['event']}\ndata: {json.dumps(update)}\n\n".encode())
    finally:
        await updates.aclose()
    return response
