"""Per-test database (cloned from a migrated template) and per-test RabbitMQ names, cleaned up after."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import PROJECT, REGION
from pg_databases import RUN, database, migrated_template, unique_name

from orchestrator.broker import Topology, declare_topology, delete_topology
from orchestrator.config import Names, ProjectCredentials, Settings
from orchestrator.store import Store

AMQP_URL = os.environ.get("CBR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("broker")


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    async with database(unique_name("broker"), template_db) as url:
        yield url


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[Store]:
    s = await Store.connect(dsn)
    yield s
    await s.close()


@pytest.fixture
def settings(dsn: str) -> Settings:
    return Settings(
        database_url=dsn,
        amqp_url=AMQP_URL,  # type: ignore[arg-type]
        names=Names(prefix=f"test.{RUN}.{uuid.uuid4().hex[:6]}"),
        credentials=[ProjectCredentials(project_id=PROJECT, region=REGION, access_key="AK", secret_key="SK")],  # type: ignore[arg-type]
    )


@pytest.fixture
async def connection() -> AsyncIterator[AbstractRobustConnection]:
    conn = await aio_pika.connect_robust(AMQP_URL)
    yield conn
    await conn.close()


@pytest.fixture
async def topology(connection: AbstractRobustConnection, settings: Settings) -> AsyncIterator[Topology]:
    channel = await connection.channel()
    topo = await declare_topology(channel, settings.names, settings.worker.delivery_limit)
    yield topo
    cleanup = await connection.channel()
    await delete_topology(cleanup, settings.names)
    await cleanup.close()
