"""Per-test database (cloned from a migrated template) and per-test RabbitMQ names, cleaned up after."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import PROJECT, REGION

from orchestrator.broker import Topology, declare_topology, delete_topology
from orchestrator.config import Names, ProjectCredentials, Settings
from orchestrator.store import Store, run_migrations

ADMIN_DSN = os.environ.get("CBR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("CBR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
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
    name = f"cbro_tpl_broker_{RUN}"

    async def setup() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        await run_migrations(dsn_of(name))

    asyncio.run(setup())
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    name = f"cbro_broker_{RUN}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield dsn_of(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
