"""The TCP proxy in front of the real services: PostgreSQL (asyncpg), RabbitMQ (aio-pika), and the CBR
emulator through our own CBR client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import aiormq
import asyncpg
import pytest
from chaos_helpers import checkpoints_held
from pg_databases import database, unique_name
from tcp_proxy import Blackhole, CutAfter, HttpErrorAfterForward, ProxyFactory, Reset, TcpProxy

from cbr_emulator.config import DEFAULT_TENANT
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.auth import AkSkAuth
from orchestrator.cbr.bodies import BillingCreate, ResourceRef, VaultCreate
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.errors import CbrApiError
from orchestrator.cbr.signing import Credentials

# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture
async def pg_proxy(tcp_proxy: ProxyFactory) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of PostgreSQL, and the DSN of a fresh database through it."""
    async with database(unique_name("chaos")) as dsn:
        proxy = await tcp_proxy(dsn)
        yield proxy, proxy.rewrite(dsn)
        await proxy.close()  # before the database is dropped: no connection of ours left on it


async def test_postgres_through_the_proxy(pg_proxy: tuple[TcpProxy, str]) -> None:
    proxy, dsn = pg_proxy
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT 40 + 2") == 42
    finally:
        await conn.close()
    assert proxy.counters.connections == 1
    assert proxy.counters.bytes_up > 0 and proxy.counters.bytes_down > 0


async def test_postgres_reset_gives_clean_errors(pg_proxy: tuple[TcpProxy, str]) -> None:
    proxy, dsn = pg_proxy
    conn = await asyncpg.connect(dsn)
    proxy.set(Reset())
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await conn.fetchval("SELECT 1")
    assert conn.is_closed()
    with pytest.raises(ConnectionResetError):
        await asyncpg.connect(dsn, timeout=5)
    assert proxy.counters.by_mode["reset"] == 2


async def test_postgres_cut_gives_clean_errors(pg_proxy: tuple[TcpProxy, str]) -> None:
    proxy, dsn = pg_proxy
    conn = await asyncpg.connect(dsn)
    proxy.set(CutAfter(5))
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await conn.fetchval("SELECT 1")
    assert conn.is_closed()
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await asyncpg.connect(dsn, timeout=5)  # the server's first answer is cut short
    assert proxy.counters.by_mode["cut_after"] == 2


async def test_postgres_blackhole_times_out_under_a_client_timeout(pg_proxy: tuple[TcpProxy, str]) -> None:
    proxy, dsn = pg_proxy
    conn = await asyncpg.connect(dsn)
    proxy.set(Blackhole())
    try:
        with pytest.raises(TimeoutError):
            await conn.fetchval("SELECT 1", timeout=0.5)
        with pytest.raises(TimeoutError):
            await asyncpg.connect(dsn, timeout=0.5)
    finally:
        conn.terminate()
    assert proxy.counters.bytes_dropped > 0


# ------------------------------------------------------------------ RabbitMQ


@pytest.fixture
async def amqp_proxy(tcp_proxy: ProxyFactory, amqp_url: str) -> tuple[TcpProxy, str]:
    proxy = await tcp_proxy(amqp_url)
    return proxy, proxy.rewrite(amqp_url)


async def test_rabbitmq_through_the_proxy(amqp_proxy: tuple[TcpProxy, str]) -> None:
    proxy, url = amqp_proxy
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"through"), routing_key=queue.name)
        message = await queue.get(no_ack=True, timeout=5)
        assert message.body == b"through"
    assert proxy.counters.connections == 1 and proxy.counters.bytes_down > 0


async def test_rabbitmq_reset_on_an_open_connection_fails_the_publish(
    amqp_proxy: tuple[TcpProxy, str],
) -> None:
    proxy, url = amqp_proxy
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        proxy.set(Reset())
        with pytest.raises(aiormq.exceptions.AMQPConnectionError):
            await channel.default_exchange.publish(aio_pika.Message(b"lost"), routing_key="nowhere")
    finally:
        await connection.close()


async def test_rabbitmq_connect_refused_by_every_fault(amqp_proxy: tuple[TcpProxy, str]) -> None:
    proxy, url = amqp_proxy
    proxy.set(Reset())
    with pytest.raises(aiormq.exceptions.AMQPConnectionError, match="reset"):
        await aio_pika.connect(url, timeout=5)
    proxy.set(CutAfter(20))
    with pytest.raises(aiormq.exceptions.AMQPConnectionError, match="unexpectedly closed"):
        await aio_pika.connect(url, timeout=5)
    proxy.set(Blackhole())
    with pytest.raises(TimeoutError):
        await aio_pika.connect(url, timeout=0.5)
    assert proxy.counters.connections == 3


# ------------------------------------------------------------------ the CBR endpoint (the emulator)


@pytest.fixture
async def cbr(
    tcp_proxy: ProxyFactory, emulator: RunningEmulator
) -> AsyncIterator[tuple[TcpProxy, CbrClient]]:
    """Our CBR client for the default tenant, talking to the emulator through a proxy."""
    proxy = await tcp_proxy(emulator.base_url)
    tenant = DEFAULT_TENANT
    client = CbrClient(
        region=tenant.region,
        project_id=tenant.project_id,
        auth=AkSkAuth(Credentials(tenant.access_key, tenant.secret_key)),
        endpoints=Endpoints.single(proxy.rewrite(emulator.base_url)),
        timeout=5,
    )
    async with client:
        yield proxy, client


async def _vault_with_a_server(client: CbrClient) -> str:
    server = await anext(client.iter_protectables("server"))
    billing = BillingCreate(object_type="server", size=100_000)  # room for its backups
    vault = await client.create_vault(
        VaultCreate(name="chaos", billing=billing, resources=[ResourceRef(id=server.id, type=server.type)])
    )
    return vault.id


async def test_cbr_gateway_error_after_forward_executes_the_checkpoint(
    cbr: tuple[TcpProxy, CbrClient], emulator: RunningEmulator
) -> None:
    proxy, client = cbr
    vault_id = await _vault_with_a_server(client)
    proxy.set(HttpErrorAfterForward())
    with pytest.raises(CbrApiError) as caught:
        await client.create_checkpoint(vault_id)
    assert (caught.value.status, caught.value.code) == (504, "APIG.0201")
    assert emulator.counters.requests_of("create_checkpoint") == 1
    assert checkpoints_held(emulator) == 1  # the call took effect although the client saw a 5xx
    assert proxy.counters.by_mode["http_error_after_forward"] == 1


async def test_cbr_blackhole_is_a_timeout_that_executed_nothing(
    cbr: tuple[TcpProxy, CbrClient], emulator: RunningEmulator
) -> None:
    proxy, client = cbr
    vault_id = await _vault_with_a_server(client)
    proxy.set(Blackhole())
    with pytest.raises(CbrApiError) as caught:
        await client.create_checkpoint(vault_id, request_timeout=0.5)
    assert caught.value.code == "timeout" and caught.value.outcome_unknown
    assert emulator.counters.requests_of("create_checkpoint") == 0
    assert checkpoints_held(emulator) == 0
