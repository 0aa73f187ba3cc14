"""End-to-end fixtures: a fresh database, own RabbitMQ names, an emulator, and settings for them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from engine_helpers import EndToEnd
from pg_databases import RUN, database_fixtures
from quick_settings import AMQP_URL, emulator_settings

from cbr_emulator.config import EmulatorConfig, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import declare_topology, delete_topology
from orchestrator.config import Settings
from orchestrator.store import Store

template_db, dsn, store = database_fixtures("engine")


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(progression=Progression.instantly())


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig) -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(emulator_config)
    yield running
    await running.close()


@pytest.fixture
def settings(dsn: str, emulator: RunningEmulator) -> Settings:
    return emulator_settings(dsn, emulator.base_url, prefix=f"test.{RUN}.{uuid.uuid4().hex[:6]}")


@pytest.fixture
async def connection() -> AsyncIterator[AbstractRobustConnection]:
    conn = await aio_pika.connect_robust(AMQP_URL)
    yield conn
    await conn.close()


@pytest.fixture
async def events_queue(
    connection: AbstractRobustConnection, settings: Settings
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """The topology, plus an exclusive queue bound to every event; removed afterwards."""
    channel = await connection.channel()
    await declare_topology(channel, settings.names, settings.worker.delivery_limit)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(settings.names.events_exchange, routing_key="#")
    yield queue
    cleanup = await connection.channel()
    await delete_topology(cleanup, settings.names)
    await cleanup.close()


@pytest.fixture
def e2e(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> EndToEnd:
    return EndToEnd(settings, store, emulator, emulator_config, connection, events_queue)
