"""GET a job's status through the gateway with 50 concurrent clients: requests per second and latency, beside a
bare aiohttp server answering a constant JSON document on the same machine (the HTTP floor here).

Modelyard's path per request: the API key (remembered by the gateway for 10 s after a PostgreSQL lookup), the
key's rate limit, the endpoint's permission, the path validated; then the job's status from the gateway's memory,
kept from the scheduler's last answer until the job's next event (`services/gateway/.../jobcache.py`). A second
row turns that memory off (`MODELYARD_GATEWAY_JOB_CACHE_S=0`): every request then asks the scheduler over NATS
and the scheduler reads PostgreSQL. Goal from the operations issue: at least 2,000 req/s and p99 at most 20 ms on
2 cores. The client runs in this process (aiohttp, 50 connections kept alive) and shares the 2 cores; the stack is
`_platform`'s real processes. The job is cancelled before any trainer runs it, so nothing else loads the machine.

Last line: {"req_per_s", "p99_ms", "p50_ms", "uncached_req_per_s", "uncached_p99_ms", "baseline_req_per_s",
"baseline_p99_ms", "ratio"}.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from modelyard.embedded.ports import free_port

if TYPE_CHECKING:  # `python bench/gateway.py` puts bench/ on sys.path; mypy sees the bench package
    from bench import _platform
else:
    import _platform

CLIENTS = 50
SECONDS = 10.0
WARMUP_S = 2.0


def _bare_server(port: int) -> None:
    body = json.dumps({"job": {"id": "x", "status": "cancelled", "metrics": {}}, "recent_metrics": []}).encode()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/job", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def hammer(url: str, headers: dict[str, str], seconds: float) -> list[float]:
    """CLIENTS loops, each sending the next request when the last answered; returns latencies (s) after warm-up."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        start = time.perf_counter()
        stop = start + WARMUP_S + seconds

        async def client() -> None:
            while (now := time.perf_counter()) < stop:
                async with http.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url} answered {response.status}")
                if now > start + WARMUP_S:
                    latencies.append(time.perf_counter() - now)

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return latencies


def summary(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    ms = sorted(x * 1000 for x in latencies)
    return len(ms) / seconds, statistics.median(ms), _platform.percentile(ms, 99)


async def modelyard(platform: _platform.Platform) -> list[float]:
    version = await _platform.publish_detect_version(platform, train=4, val=2, size=32)
    async with platform.http() as http:
        job = await _platform.submit(http, _platform.job_body(version, {"epochs": 1, "imgsz": 32}))
        (await http.post(f"{_platform.JOBS}/{job.id}/cancel")).raise_for_status()
        await _platform.wait_job(http, job.id)
    return await hammer(f"{platform.gateway}{_platform.JOBS}/{job.id}", platform.auth, SECONDS)


def main() -> None:
    # one API key sends everything here: its plan's request rate (free: 50/s) would cap the figure, so the limiter
    # stays on the path, scaled by 1000
    os.environ["MODELYARD_GATEWAY_RATE_LIMIT_SCALE"] = "1000"
    port = free_port()
    server = multiprocessing.Process(target=_bare_server, args=(port,), daemon=True)
    server.start()
    time.sleep(1.0)
    try:
        baseline = asyncio.run(hammer(f"http://127.0.0.1:{port}/job", {}, SECONDS))
    finally:
        server.terminate()
    with _platform.running_stack("gateway") as platform:
        ours = asyncio.run(modelyard(platform))
    os.environ["MODELYARD_GATEWAY_JOB_CACHE_S"] = "0"
    with _platform.running_stack("gateway-uncached") as platform:
        uncached = asyncio.run(modelyard(platform))
    b_rps, b_p50, b_p99 = summary(baseline, SECONDS)
    rps, p50, p99 = summary(ours, SECONDS)
    u_rps, u_p50, u_p99 = summary(uncached, SECONDS)
    print(f"GET job status, {CLIENTS} concurrent clients, {SECONDS:g} s each (after {WARMUP_S:g} s warm-up)")
    print(f"{'':44}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'bare aiohttp, constant JSON':44}{b_rps:10.0f}{b_p50:10.2f}{b_p99:10.2f}")
    print(f"{'Modelyard gateway (status between events)':44}{rps:10.0f}{p50:10.2f}{p99:10.2f}")
    print(f"{'Modelyard gateway → NATS → scheduler':44}{u_rps:10.0f}{u_p50:10.2f}{u_p99:10.2f}")
    print(f"goal: ≥ 2,000 req/s and p99 ≤ 20 ms; ratio to the bare server {rps / b_rps:.2f}")
    figures = {
        "req_per_s": round(rps, 1),
        "p99_ms": round(p99, 2),
        "p50_ms": round(p50, 2),
        "uncached_req_per_s": round(u_rps, 1),
        "uncached_p99_ms": round(u_p99, 2),
        "baseline_req_per_s": round(b_rps, 1),
        "baseline_p99_ms": round(b_p99, 2),
        "ratio": round(rps / b_rps, 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
