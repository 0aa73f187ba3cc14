"""A fresh, migrated database per test for the command line and its views."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pg_databases import database, migrated_template, unique_name

from orchestrator.store import Store


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("cli")


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    async with database(unique_name("cli"), template_db) as url:
        yield url


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[Store]:
    s = await Store.connect(dsn)
    yield s
    await s.close()
