"""`python -m modelyard.trainer [--pool cpu|gpu]` (or `modelyard trainer`): a trainer worker. Settings from
MODELYARD_TRAINER_* variables; --pool and --device override them."""

from __future__ import annotations

import argparse
import asyncio
import signal

from nats.aio.msg import Msg

from modelyard.contracts import subjects
from modelyard.contracts.api.training import Pool
from modelyard.runtime import metrics, tasks
from modelyard.runtime.logging import configure_logging, get_logger
from modelyard.runtime.service import connect_nats
from modelyard.runtime.storage import ObjectStore
from modelyard.trainer.settings import Settings
from modelyard.trainer.worker import Worker

log = get_logger(__name__)


async def serve(settings: Settings) -> None:
    nc = await connect_nats(settings, f"modelyard-trainer-{settings.trainer_id}")  # with its creds, if it has any
    store = ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        region=settings.s3_region,
    )
    await store.ensure_bucket()
    worker = Worker(settings, nc, store)
    metrics.serve(settings.metrics_port)
    await worker.start()

    async def answer(msg: Msg) -> None:
        await nc.publish(msg.reply, b'{"service": "trainer", "status": "ok"}')

    await nc.subscribe(subjects.service_health("trainer"), cb=answer)  # the dev stack waits on this
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    work = asyncio.create_task(worker.serve_forever())
    log.info("trainer.started", pool=settings.pool.value, trainer_id=settings.trainer_id)
    await stop.wait()
    work.cancel()
    current = worker.current
    if current is not None and current.process is not None and current.process.returncode is None:
        current.process.terminate()  # the job's message is not acked: another trainer resumes it
    await tasks.stop(work)  # cancelled again if a cancellation was swallowed: asyncio.run's shutdown would hang
    await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="modelyard trainer")
    parser.add_argument("--pool", choices=[p.value for p in Pool])
    parser.add_argument("--device")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("pool", args.pool), ("device", args.device)) if v}
    settings = Settings(**overrides)
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
