"""A fresh, migrated database per test, cloned from a template migrated once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pg_databases import database, database_fixtures, unique_name

template_db, dsn, store = database_fixtures("store")


@pytest.fixture
async def empty_dsn() -> AsyncIterator[str]:
    async with database(unique_name("empty")) as url:
        yield url
