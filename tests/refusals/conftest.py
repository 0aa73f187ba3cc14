"""The command line as a user runs it (a separate process) against a real PostgreSQL, RabbitMQ and, when a
test asks for one, a real worker on the CBR emulator: per-test database, RabbitMQ names and environment."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from pg_databases import RUN, database_fixtures
from quick_settings import AMQP_URL, emulator_settings, quick_worker
from refusal_helpers import EMULATOR_CONFIG

from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import delete_topology
from orchestrator.config import Settings
from orchestrator.worker import run_worker

template_db, dsn, store = database_fixtures("refusals")


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EMULATOR_CONFIG)
    yield running
    await running.close()


@pytest.fixture
async def settings(dsn: str, emulator: RunningEmulator) -> AsyncIterator[Settings]:
    """A worker's settings on this test's database and RabbitMQ names; the names are removed afterwards."""
    # one reply attempt: a reply that fails is parked at once, so what `submit --wait` shows once the relay
    # has tried does not depend on how soon a second try comes on a loaded machine
    worker = quick_worker(relay_poll_seconds=0.2, reply_attempts=1)
    chosen = emulator_settings(
        dsn, emulator.base_url, prefix=f"test.{RUN}.{uuid.uuid4().hex[:6]}", worker=worker
    )
    yield chosen
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), chosen.names)


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """What the command line needs beside the database: the broker and the names of its queues."""
    return {"CBR_ORCH_AMQP_URL": AMQP_URL, "CBR_ORCH_NAMES__PREFIX": settings.names.prefix}


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[None]:
    """A real worker (intake, engine, relay) on the emulator, until the test ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop))
    yield
    stop.set()
    await task
