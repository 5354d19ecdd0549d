"""Where a running stack is: `.modelyard/stack.json` (written by `modelyard dev up`), overridden per value by
MODELYARD_GATEWAY_URL, MODELYARD_NATS_URL and MODELYARD_TOKEN."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_ROOT = Path(".modelyard")
STACK_FILE = "stack.json"
TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret


class StackInfo(BaseModel):
    gateway: str
    nats: str
    s3: str
    postgres: str | None = None
    edge_agents: dict[str, str] = Field(default_factory=dict)
    pids: dict[str, int] = Field(default_factory=dict)


class Target(BaseModel):
    gateway_url: str | None = None
    nats_url: str | None = None
    token: str | None = None


def find_root(start: Path | None = None) -> Path | None:
    """The nearest `.modelyard/stack.json`, from the current folder up."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_ROOT / STACK_FILE).is_file():
            return folder / DEFAULT_ROOT
    return None


def write(root: Path, info: StackInfo) -> Path:
    path = root / STACK_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(info.model_dump_json(indent=2) + "\n")
    tmp.replace(path)
    return path


def resolve(root: Path | None = None) -> Target:
    root = root or find_root()
    target = Target()
    if root is not None and (root / STACK_FILE).is_file():
        info = StackInfo.model_validate(json.loads((root / STACK_FILE).read_text()))
        token_path = root / TOKEN_FILE
        target = Target(
            gateway_url=info.gateway,
            nats_url=info.nats,
            token=token_path.read_text().strip() if token_path.is_file() else None,
        )
    return Target(
        gateway_url=os.environ.get("MODELYARD_GATEWAY_URL", target.gateway_url),
        nats_url=os.environ.get("MODELYARD_NATS_URL", target.nats_url),
        token=os.environ.get("MODELYARD_TOKEN", target.token),
    )


def nats_credentials() -> dict[str, str]:
    """nats-py `connect` options for the operator's NATS credentials: `MODELYARD_NATS_CREDS`, a .creds file, where
    NATS runs in operator mode (JWT auth); nothing where it runs without auth (the dev stack)."""
    path = os.environ.get("MODELYARD_NATS_CREDS")
    return {"user_credentials": path} if path else {}
