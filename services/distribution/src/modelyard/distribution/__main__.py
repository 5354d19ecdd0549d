"""`python -m modelyard.distribution`: run the distribution (settings from MODELYARD_DISTRIBUTION_* variables)."""

from __future__ import annotations

import asyncio

from modelyard.distribution.app import lifespan
from modelyard.distribution.settings import Settings
from modelyard.runtime.logging import configure_logging
from modelyard.runtime.service import run_until_signalled


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    asyncio.run(run_until_signalled(lifespan(settings)))


if __name__ == "__main__":
    main()
