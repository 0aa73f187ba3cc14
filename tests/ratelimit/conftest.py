"""A fresh, migrated database per test (cloned from a template migrated once per session)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from pg_databases import create_database, database, drop_database, dsn_of, migrated_template, unique_name


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("ratelimit")


@pytest.fixture
def db_name() -> str:
    return unique_name("ratelimit")


@pytest.fixture
async def dsn(template_db: str, db_name: str) -> AsyncIterator[str]:
    async with database(db_name, template_db) as url:
        yield url


@dataclass(frozen=True)
class LateDatabase:
    """A database that does not exist until ``create()``: PostgreSQL "away" for its users until then."""

    name: str
    template: str

    @property
    def dsn(self) -> str:
        return dsn_of(self.name)

    async def create(self) -> None:
        await create_database(self.name, self.template)


@pytest.fixture
async def late_database(template_db: str, db_name: str) -> AsyncIterator[LateDatabase]:
    yield LateDatabase(db_name, template_db)
    await drop_database(db_name)
