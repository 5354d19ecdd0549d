"""Versioned SQL migrations per service schema, applied at start.

A service keeps its migrations as files `NNNN_what.sql` in a `migrations` package beside its code. The runtime
adds its own (outbox and inbox tables) under the source name "runtime". Each file runs once, in order, in one
transaction with the service schema as search_path: one run applies all that is missing, or nothing.
An advisory lock makes concurrent starts safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from modelyard.runtime.db import check_schema_name
from modelyard.runtime.logging import get_logger

log = get_logger(__name__)
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str


def load_migrations(package: str, source: str = "service") -> list[Migration]:
    """Every `NNNN_name.sql` in the given package (e.g. "modelyard.dataset.migrations"), in version order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(source, int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"{package}: two migrations share a version")
    return found


def runtime_migrations() -> list[Migration]:
    return load_migrations("modelyard.runtime.sql", source="runtime")


async def migrate(pool: asyncpg.Pool, schema: str, migrations: list[Migration]) -> list[Migration]:
    """Apply what is missing; return what was applied now."""
    check_schema_name(schema)
    applied: list[Migration] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"modelyard.migrate.{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                source text NOT NULL, version int NOT NULL, name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, version))"""
        )
        done = {(r["source"], r["version"]) for r in await conn.fetch(f"SELECT * FROM {schema}.schema_migrations")}
        for migration in migrations:
            if (migration.source, migration.version) in done:
                continue
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {schema}")
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (source, version, name) VALUES ($1, $2, $3)",
                    migration.source,
                    migration.version,
                    migration.name,
                )
            applied.append(migration)
            log.info("db.migrated", schema=schema, source=migration.source, version=migration.version)
    return applied
