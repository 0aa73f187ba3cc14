"""Per-test database (cloned from a migrated template) and per-test RabbitMQ names, cleaned up after;
for tests that run a real worker, an emulator and quick worker settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import PROJECT, REGION
from pg_databases import RUN, database_fixtures
from quick_settings import emulator_settings, quick_worker
from worker_helpers import EMULATOR_CONFIG

from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import Topology, declare_topology, delete_topology
from orchestrator.config import MetricsSettings, Names, ProjectCredentials, Settings

AMQP_URL = os.environ.get("CBR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


template_db, dsn, store = database_fixtures("broker")


@pytest.fixture
def settings(dsn: str) -> Settings:
    return Settings(
        database_url=dsn,
        amqp_url=AMQP_URL,  # type: ignore[arg-type]
        names=Names(prefix=f"test.{RUN}.{uuid.uuid4().hex[:6]}"),
        credentials=[ProjectCredentials(project_id=PROJECT, region=REGION, access_key="AK", secret_key="SK")],  # type: ignore[arg-type]
        metrics=MetricsSettings(port=0),  # tests run many workers at once
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


# ------------------------------------------------------------------ a real worker (engine, emulator)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EMULATOR_CONFIG)
    yield running
    await running.close()


@pytest.fixture
def worker_settings(settings: Settings, emulator: RunningEmulator) -> Settings:
    """The broker tests' database and names, with the emulator's tenant and a quick worker."""
    worker = quick_worker(relay_poll_seconds=0.2, reply_attempts=2)
    return emulator_settings(
        settings.database_url, emulator.base_url, prefix=settings.names.prefix, worker=worker
    )


@pytest.fixture
async def events_queue(
    connection: AbstractRobustConnection, worker_settings: Settings
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """The topology, plus an exclusive queue bound to every event; removed afterwards."""
    channel = await connection.channel()
    await declare_topology(channel, worker_settings.names, worker_settings.worker.delivery_limit)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(worker_settings.names.events_exchange, routing_key="#")
    yield queue
    cleanup = await connection.channel()
    await delete_topology(cleanup, worker_settings.names)
    await cleanup.close()
