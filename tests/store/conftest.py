"""A fresh, migrated database per test, cloned from a template migrated once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from orchestrator.store import Store, run_migrations

ADMIN_DSN = os.environ.get("CBR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN = uuid.uuid4().hex[:8]


def dsn_of(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + db


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    import asyncio

    name = f"cbro_tpl_store_{RUN}"

    async def setup() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        await run_migrations(dsn_of(name))

    asyncio.run(setup())
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    name = f"cbro_store_{RUN}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield dsn_of(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_dsn() -> AsyncIterator[str]:
    name = f"cbro_empty_{RUN}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    yield dsn_of(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[Store]:
    s = await Store.connect(dsn)
    yield s
    await s.close()
