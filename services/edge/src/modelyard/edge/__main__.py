"""`python -m modelyard.edge` (also `modelyard edge-agent`): run an edge agent.

First start: `--gateway URL --enrollment-token T --nats-url URL` enrolls the device and keeps its identity and the
trusted keys in `--state-dir`; later starts need only `--state-dir`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

import structlog

from modelyard.edge import identity
from modelyard.edge.agent import Agent, AgentConfig


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="modelyard edge-agent", description=__doc__)
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--name", help="the device's name (enrollment)")
    p.add_argument("--gateway", help="gateway URL (enrollment)")
    p.add_argument("--enrollment-token", help="one-time token from POST /api/v1/devices/enrollment-tokens")
    p.add_argument("--nats-url", help="NATS URL (enrollment; kept in the state dir)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--hardware", default="cpu")
    p.add_argument("--platform", default="linux-x86_64")
    p.add_argument("--label", action="append", default=[], help="key=value (enrollment)")
    p.add_argument("--trusted-key", action="append", type=Path, default=[], help="an extra trusted public key PEM")
    p.add_argument("--heartbeat-s", type=float, default=10.0)
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    known = identity.load(args.state_dir)
    if known is None:
        if not (args.gateway and args.enrollment_token and args.nats_url and args.name):
            raise SystemExit("not enrolled yet: give --name, --gateway, --enrollment-token and --nats-url")
        labels = dict(label.split("=", 1) for label in args.label)
        known = await identity.enroll(
            args.gateway,
            args.enrollment_token,
            state_dir=args.state_dir,
            name=args.name,
            nats_url=args.nats_url,
            platform=args.platform,
            hardware=args.hardware,
            labels=labels,
        )
    config = AgentConfig(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        hardware=args.hardware,
        platform=args.platform,
        heartbeat_s=args.heartbeat_s,
        extra_keys=args.trusted_key,
    )
    agent = Agent(config, known, identity.trusted_keys(args.state_dir, args.trusted_key))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    print(f"edge agent {known.name} serving on {agent.url}", flush=True)  # noqa: T201 - the dev stack waits for it
    await stop.wait()
    await agent.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    main()
