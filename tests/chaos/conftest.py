"""Chaos fixtures: TCP proxies in front of any upstream, and a worker's world (database, broker names,
emulator, settings) for tests that run worker processes.

``tcp_proxy`` is a factory: ``proxy = await tcp_proxy(url_or_(host, port))``; every proxy it made is
closed at the end of the test, which then fails if a proxy recorded an unexpected error of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from pg_databases import RUN, database, migrated_template, unique_name
from tcp_proxy import ProxyFactory, TcpProxy, upstream_of

from orchestrator.broker import declare_topology, delete_topology
from orchestrator.config import Names, ProjectCredentials, Settings, WorkerSettings
from orchestrator.emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from orchestrator.emulator.server import RunningEmulator, start_emulator

AMQP_URL = os.environ.get("CBR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


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


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    yield from migrated_template("chaos")


@pytest.fixture
async def dsn(template_db: str) -> AsyncIterator[str]:
    async with database(unique_name("chaos"), template_db) as url:
        yield url


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with await start_emulator(EmulatorConfig(progression=Progression.instantly())) as running:
        yield running


@pytest.fixture
def settings(dsn: str, emulator: RunningEmulator) -> Settings:
    tenant = DEFAULT_TENANT
    return Settings(
        database_url=dsn,
        amqp_url=AMQP_URL,
        names=Names(prefix=f"test.{RUN}.{uuid.uuid4().hex[:6]}"),
        credentials=[
            ProjectCredentials(
                project_id=tenant.project_id,
                region=tenant.region,
                access_key=tenant.access_key,
                secret_key=tenant.secret_key,
            )
        ],
        cbr_endpoints={tenant.region: emulator.base_url},
        cbr_timeout_seconds=2.0,
        worker=WorkerSettings(
            lease_seconds=3,
            lease_margin_seconds=0.5,
            heartbeat_seconds=0.5,
            settle_seconds=2.5,
            settle_base_seconds=0.2,
            drain_seconds=2.0,
            idle_poll_seconds=0.2,
            status_poll_seconds=0.1,
            backoff_base_seconds=0.1,
            backoff_max_seconds=0.5,
            relay_poll_seconds=0.5,
        ),
    )


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
