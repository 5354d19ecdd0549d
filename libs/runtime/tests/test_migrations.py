import asyncio

import asyncpg
import pytest

from modelyard.runtime.db import open_pool
from modelyard.runtime.migrations import Migration, migrate, runtime_migrations

ITEMS = [
    Migration("service", 1, "items", "CREATE TABLE items (id int PRIMARY KEY)"),
    Migration("service", 2, "item_name", "ALTER TABLE items ADD COLUMN name text"),
]


async def test_migrations_apply_once_in_order_into_the_service_schema(database_url: str) -> None:
    async with open_pool(database_url, "svc") as pool:
        first = await migrate(pool, "svc", runtime_migrations() + ITEMS)
        again = await migrate(pool, "svc", runtime_migrations() + ITEMS)
        assert [m.name for m in first] == ["outbox_inbox", "items", "item_name"]
        assert again == []
        await pool.execute("INSERT INTO items (id, name) VALUES (1, 'a')")  # unqualified: search_path is svc
        assert await pool.fetchval("SELECT name FROM svc.items") == "a"


async def test_concurrent_starts_migrate_once(database_url: str) -> None:
    async with open_pool(database_url, "svc", max_size=4) as pool:
        results = await asyncio.gather(*(migrate(pool, "svc", ITEMS) for _ in range(4)))
        assert sorted(len(r) for r in results) == [0, 0, 0, 2]


async def test_a_failing_migration_leaves_nothing_half_applied(database_url: str) -> None:
    broken = [*ITEMS, Migration("service", 3, "broken", "ALTER TABLE items ADD COLUMN x int; SELECT 1/0")]
    async with open_pool(database_url, "svc") as pool:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate(pool, "svc", broken)
        exists = await pool.fetchval("SELECT to_regclass('svc.items')")
        assert exists is None  # the whole run is one transaction
