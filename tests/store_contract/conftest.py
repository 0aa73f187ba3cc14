"""One store contract, two stores: every test here runs on PostgreSQL (a fresh migrated database) and on
the in-memory store, as procrastinate tests its in-memory connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pg_databases import database, migrated_template, unique_name

from orchestrator.store import Store, WorkflowStore
from orchestrator.store.memory import MemoryStore


@pytest.fixture(scope="session")
def contract_template() -> Iterator[str]:
    yield from migrated_template("contract")


@pytest.fixture(params=["postgres", "memory"])
async def store(request: pytest.FixtureRequest, contract_template: str) -> AsyncIterator[WorkflowStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    async with database(unique_name("contract"), contract_template) as dsn:
        opened = await Store.connect(dsn)
        yield opened
        await opened.close()
