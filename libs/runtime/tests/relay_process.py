"""A real outbox relay in its own process, for the kill-and-restart test: python relay_process.py DSN NATS SCHEMA."""

import asyncio
import sys

from modelyard.runtime import jetstream
from modelyard.runtime.db import open_pool
from modelyard.runtime.outbox import OutboxRelay


async def main(dsn: str, nats_url: str, schema: str) -> None:
    nc = await jetstream.connect(nats_url, "relay-under-test")
    async with open_pool(dsn, schema, max_size=3) as pool:
        await OutboxRelay(pool, nc.jetstream(), schema, batch_size=50, poll_interval_s=0.2).run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
