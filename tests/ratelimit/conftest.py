"""A fresh, migrated database per test (cloned from a template migrated once per session)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from orchestrator.store import run_migrations

ADMIN_DSN = os.environ.get("CBR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN = uuid.uuid4().hex[:8]


def dsn_of(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + db


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    name = f"cbro_tpl_ratelimit_{RUN}"

    async def setup() -> None:
        await admin(f'CREATE DATABASE "{name}"')
        await run_migrations(dsn_of(name))

    asyncio.run(setup())
    yield name
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_name() -> str:
    return f"cbro_ratelimit_{RUN}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def dsn(template_db: str, db_name: str) -> AsyncIterator[str]:
    await admin(f'CREATE DATABASE "{db_name}" TEMPLATE "{template_db}"')
    yield dsn_of(db_name)
    await admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@dataclass(frozen=True)
class LateDatabase:
    """A database that does not exist until ``create()``: PostgreSQL "away" for its users until then."""

    name: str
    template: str

    @property
    def dsn(self) -> str:
        return dsn_of(self.name)

    async def create(self) -> None:
        await admin(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')


@pytest.fixture
async def late_database(template_db: str, db_name: str) -> AsyncIterator[LateDatabase]:
    yield LateDatabase(db_name, template_db)
    await admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
