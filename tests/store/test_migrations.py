from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from orchestrator.store import run_migrations
from orchestrator.store.migrations import load_migrations
from orchestrator.store.named_sql import parse_queries, queries


async def test_migrate_twice_and_concurrently(empty_dsn: str) -> None:
    first, second = await asyncio.gather(run_migrations(empty_dsn), run_migrations(empty_dsn))
    assert sorted(first + second) == [m.version for m in load_migrations()]
    assert await run_migrations(empty_dsn) == []
    conn = await asyncpg.connect(empty_dsn)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert tables == {
        "schema_migrations",
        "workflows",
        "steps",
        "outbox",
        "resource_locks",
        "rate_buckets",
        "admission_slots",
        "refusals",
        "api_keys",
        "idempotency_keys",
        "callbacks",
        "coverage_resources",
        "coverage_backups",
        "coverage_cursors",
        "posture_states",
    }
    assert recorded == len(load_migrations())


async def test_every_named_query_of_every_file_prepares(dsn: str) -> None:
    assert {"claim_due", "workflows_shown", "insert_refusal"} <= set(queries())  # one of each file
    conn = await asyncpg.connect(dsn)
    failed = {}
    try:
        for name, sql in queries().items():
            try:
                await conn.prepare(sql)
            except asyncpg.PostgresError as exc:  # a typo or a missing column
                failed[name] = f"{type(exc).__name__}: {exc}"
    finally:
        await conn.close()
    assert failed == {}


def test_bad_migration_names_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="NNN_name"):
        load_migrations(tmp_path)


def test_duplicate_query_names_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
