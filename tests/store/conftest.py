"""A fresh, migrated database per test, cloned from a template migrated once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pg_databases import database, migrated_template, unique_name

from orchestrator.store import Store


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("store")


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    async with database(unique_name("store"), template_db) as url:
        yield url


@pytest.fixture
async def empty_dsn() -> AsyncIterator[str]:
    async with database(unique_name("empty")) as url:
        yield url


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[Store]:
    s = await Store.connect(dsn)
    yield s
    await s.close()
