"""Chaos fixtures: TCP proxies in front of any upstream, and a worker's world (database, broker names,
emulator, settings) for tests that run worker processes.

``tcp_proxy`` is a factory: ``proxy = await tcp_proxy(url_or_(host, port))``; every proxy it made is
closed at the end of the test, which then fails if a proxy recorded an unexpected error of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from pg_databases import RUN, database_fixtures
from quick_settings import AMQP_URL, emulator_settings
from tcp_proxy import ProxyFactory, TcpProxy, upstream_of

from cbr_emulator.config import EmulatorConfig, Progression
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import declare_topology, delete_topology
from orchestrator.config import Settings


@pytest.fixture
async def tcp_proxy() -> AsyncIterator[ProxyFactory]:
    made: list[TcpProxy] = []

    async def make(upstream: str | tuple[str, int]) -> TcpProxy:
        host, port = upstream_of(upstream) if isinstance(upstream, str) else upstream
        proxy = await TcpProxy.start(host, port)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        await proxy.close()
    errors = [error for proxy in made for error in proxy.errors]
    assert not errors, f"the proxy failed inside: {errors}"


@pytest.fixture
def amqp_url() -> str:
    return AMQP_URL


template_db, dsn, store = database_fixtures("chaos")


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with await start_emulator(EmulatorConfig(progression=Progression.instantly())) as running:
        yield running


@pytest.fixture
def settings(dsn: str, emulator: RunningEmulator) -> Settings:
    return emulator_settings(dsn, emulator.base_url, prefix=f"test.{RUN}.{uuid.uuid4().hex[:6]}")


@pytest.fixture
async def broker(settings: Settings) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """A connection to RabbitMQ with the settings' topology declared; the topology removed at the end."""
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await declare_topology(channel, settings.names, settings.worker.delivery_limit)
    yield connection
    cleanup = await connection.channel()
    await delete_topology(cleanup, settings.names)
    await connection.close()
