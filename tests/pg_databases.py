"""Throw-away PostgreSQL databases for tests: a template migrated once per session, cloned for each test.

Every name carries ``RUN`` (one value per test session) and the label of the folder that made it, so a
database left behind by a killed run says where it came from. Shared by the conftest files of the folders
that need a database; they keep only what differs (the label, and fixtures of their own).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import pytest

from orchestrator.store import Store, run_migrations
from orchestrator.store import database as database_helpers

ADMIN_DSN = os.environ.get("CBR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN = uuid.uuid4().hex[:8]


def dsn_of(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + db


def unique_name(label: str) -> str:
    """A database name of this run that no other test uses."""
    return f"cbro_{label}_{RUN}_{uuid.uuid4().hex[:8]}"


async def create_database(name: str, template: str | None = None) -> None:
    await database_helpers.create_database(dsn_of(name), template=template)


async def drop_database(name: str) -> None:
    await database_helpers.drop_database(dsn_of(name))


def migrated_template(label: str) -> Iterator[str]:
    """The body of a session fixture: a migrated database to clone, dropped at the end of the session."""
    name = f"cbro_tpl_{label}_{RUN}"

    async def setup() -> None:
        await create_database(name)
        await run_migrations(dsn_of(name))

    asyncio.run(setup())
    yield name
    asyncio.run(drop_database(name))


@contextlib.asynccontextmanager
async def database(name: str, template: str | None = None) -> AsyncIterator[str]:
    """A database (a clone of ``template``, or empty) for the length of the block; yields its DSN."""
    async with database_helpers.temporary_database(dsn_of(name), template) as dsn:
        yield dsn


class DatabaseFixtures(NamedTuple):
    """The three fixtures a test folder needs for a fresh, migrated database per test; a conftest takes them
    with ``template_db, dsn, store = database_fixtures("label")``."""

    template_db: Any
    dsn: Any
    store: Any


def database_fixtures(label: str) -> DatabaseFixtures:
    """A template migrated once per session (``template_db``), a clone of it per test (``dsn``), and a
    :class:`Store` on that clone (``store``); their databases are named after ``label``."""

    @pytest.fixture(scope="session", name="template_db")
    def template_db() -> Iterator[str]:
        yield from migrated_template(label)

    @pytest.fixture(name="dsn")
    async def dsn(template_db: str) -> AsyncIterator[str]:
        async with database(unique_name(label), template_db) as url:
            yield url

    @pytest.fixture(name="store")
    async def store(dsn: str) -> AsyncIterator[Store]:
        opened = await Store.connect(dsn)
        yield opened
        await opened.close()

    return DatabaseFixtures(template_db, dsn, store)
