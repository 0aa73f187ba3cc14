"""A worker whose every connection goes through a TCP proxy — to PostgreSQL, to RabbitMQ and to CBR — while
the proxies delay, reset, cut, stall (an outage: live connections hold their bytes) and blackhole (CBR:
requests vanish): nothing hangs, nothing is lost, nothing is done twice."""

from __future__ import annotations

import asyncio

import aio_pika
from chaos_helpers import all_ended, all_published, checkpoints_by_marker, collect, numbered_backups, publish
from crash_points import worker_process
from pydantic import SecretStr
from tcp_proxy import Blackhole, CutAfter, Delay, Pass, ProxyFactory, Reset, Stall, TcpProxy

from cbr_emulator.config import DEFAULT_TENANT, Progression
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.store import Store, WorkflowStatus

COMMANDS = 8


async def spell(proxy: TcpProxy, mode: object, seconds: float) -> None:
    """``mode`` for ``seconds``, then pass again."""
    proxy.set(mode)  # type: ignore[arg-type]
    await asyncio.sleep(seconds)
    proxy.set(Pass())


async def test_delays_resets_cuts_and_blackholes_on_every_connection_lose_and_double_nothing(
    settings: Settings,
    broker: aio_pika.abc.AbstractConnection,
    emulator: RunningEmulator,
    store: Store,
    tcp_proxy: ProxyFactory,
) -> None:
    database = await tcp_proxy(settings.database_url)
    rabbit = await tcp_proxy(settings.amqp_url.get_secret_value())
    cloud = await tcp_proxy(emulator.base_url)
    amqp = rabbit.rewrite(settings.amqp_url.get_secret_value()) + "?heartbeat=2"  # a dead link is seen
    through = settings.model_copy(
        update={
            "database_url": database.rewrite(settings.database_url),
            "database_timeout_seconds": 3.0,
            "amqp_url": SecretStr(amqp),
            "cbr_endpoints": {DEFAULT_TENANT.region: cloud.rewrite(emulator.base_url)},
        }
    )
    # backups take a few seconds: the faults hit workflows in every phase, polling included
    emulator.emulator.set_progression(Progression(base_seconds=3, gb_per_second=1000, waiting_seconds=0))
    channel = await broker.channel()
    events = await channel.declare_queue(exclusive=True)
    await events.bind(settings.names.events_exchange, routing_key="#")
    commands = numbered_backups(emulator, COMMANDS, "net")
    for command in commands:
        await publish(broker, settings, command)
    async with worker_process(through) as worker:
        await worker.started()
        await spell(cloud, Delay(0.3), 1.5)
        await spell(cloud, Reset(), 1.0)
        await spell(database, Reset(), 1.0)
        await spell(rabbit, Reset(), 1.0)
        await spell(cloud, Blackhole(), 2.0)
        await spell(cloud, CutAfter(100), 1.0)
        await spell(database, Stall(), 2.0)  # an outage: live connections hold their bytes
        await spell(rabbit, CutAfter(200), 1.0)
        await spell(rabbit, Stall(), 3.0)
        await all_ended(store, 60)
        await all_published(store, 30)
        assert await worker.stop() == 0, worker.log()
    for command in commands:
        wf = await store.workflow_by_command(command.command_id)
        assert wf is not None and wf.status is WorkflowStatus.SUCCEEDED, wf and wf.error_code
    finals = [e for e in await collect(events) if e["data"]["outcome"] != "progress"]
    assert len({e["id"] for e in finals}) == COMMANDS
    by_marker = checkpoints_by_marker(emulator)
    assert len(by_marker) == COMMANDS and set(by_marker.values()) == {1}
    faults = {
        name: proxy.counters.by_mode for name, proxy in (("db", database), ("mq", rabbit), ("cbr", cloud))
    }
    assert all(modes.get("reset") for modes in faults.values()), faults
