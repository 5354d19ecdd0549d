"""`python -m modelyard.gateway [serve]` runs the HTTP API; `python -m modelyard.gateway bootstrap --token-file F`
creates the default organisation and a super admin (settings from MODELYARD_GATEWAY_* variables)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web

from modelyard.gateway.app import create_app
from modelyard.gateway.bootstrap import bootstrap
from modelyard.gateway.settings import Settings
from modelyard.runtime.logging import configure_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelyard.gateway")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP API (default)")
    boot = sub.add_parser("bootstrap", help="create the default org and a super admin key")
    boot.add_argument("--org", default="default")
    boot.add_argument("--token-file", type=Path, required=True)
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    if args.command == "bootstrap":
        _key, new = asyncio.run(bootstrap(settings, args.org, args.token_file))
        print(f"super admin key {'created' if new else 'kept'} in {args.token_file}")  # noqa: T201
        return
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None, shutdown_timeout=5)


if __name__ == "__main__":
    main()
