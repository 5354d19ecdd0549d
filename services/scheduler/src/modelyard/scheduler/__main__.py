"""`python -m modelyard.scheduler`: run the scheduler (settings from MODELYARD_SCHEDULER_* variables)."""

from __future__ import annotations

import asyncio

from modelyard.runtime.logging import configure_logging
from modelyard.runtime.service import run_until_signalled
from modelyard.scheduler.app import lifespan
from modelyard.scheduler.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    asyncio.run(run_until_signalled(lifespan(settings)))


if __name__ == "__main__":
    main()
