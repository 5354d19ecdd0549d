"""asyncpg pools. Each service owns one schema; its connections use it as their search_path, so its SQL names
tables unqualified and can never touch another service's tables by accident."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from enum import Enum
from typing import Any

import asyncpg

from modelyard.runtime.logging import get_logger

log = get_logger(__name__)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        server_settings={"search_path": check_schema_name(schema), "application_name": f"modelyard-{schema}"},
    )
    return pool


async def fetch_page(
    conn: asyncpg.Connection,
    *,
    table: str,
    columns: str,
    equal: Mapping[str, Any],
    order_by: str,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    """One page of `table` where each given column equals its value (None: no condition), and the total count.
    Table, columns and order come from the caller's code, never from input; values are bound parameters."""
    where, args = [], []
    for column, value in equal.items():
        if value is not None:
            args.append(value.value if isinstance(value, Enum) else value)
            where.append(f"{column} = ${len(args)}")
    clause = " AND ".join(where) or "TRUE"
    total: int = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {clause}", *args)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {columns} FROM {table} WHERE {clause} ORDER BY {order_by} "
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return rows, total


@asynccontextmanager
async def open_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, schema, min_size=min_size, max_size=max_size)
    try:
        yield pool
    finally:
        await close_pool(pool)


async def close_pool(pool: asyncpg.Pool, timeout_s: float = 10.0) -> None:
    """Close gracefully, but not forever: asyncpg's close waits for every acquired connection to come back, and a
    stuck borrower would hold a shutdown (and a test run) indefinitely."""
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        log.warning("db.pool_close_timed_out", timeout_s=timeout_s)
        pool.terminate()
