"""The API under test: a fresh migrated database, the app in-process behind aiohttp's test server (every
answer held to the OpenAPI document: :class:`api_helpers.conforming_client`), and keys made as
``api-key create`` makes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from api_helpers import conforming_client
from api_types import MakeKey
from pg_databases import database_fixtures
from quick_settings import emulator_settings

from orchestrator.api.keys import Scope, new_key
from orchestrator.config import Settings
from orchestrator.store import Store
from orchestrator.store.api_keys import NewApiKey

template_db, dsn, store = database_fixtures("api")



@pytest.fixture
def api_settings(dsn: str) -> Settings:
    return emulator_settings(dsn, "http://127.0.0.1:9")  # no CBR call is made by the API


@pytest.fixture
async def client(api_settings: Settings, store: Store) -> AsyncIterator[TestClient[Any, Any]]:
    async with conforming_client(api_settings, store) as test_client:
        yield test_client


@pytest.fixture
def make_key(store: Store) -> MakeKey:
    async def make(scopes: tuple[Scope, ...], projects: tuple[str, ...] = (), name: str = "test") -> str:
        key = new_key()
        await store.api_keys.create(NewApiKey(key.key_id, name, key.secret_hash, projects, scopes))
        return key.presented

    return make
