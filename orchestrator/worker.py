"""A worker process: intake, engine, relay and callbacks together, stopped gracefully by an event or a signal.

Run several at once: they share the commands queue (competing consumers) and the workflows (leases).
``drain=True`` ("drain then stop", for tests and the demo) stops once the commands queue is empty, no
workflow is unfinished and every event is published.

Stopping (SIGTERM, SIGINT, or the stop event): the worker stops consuming commands, the engine stops
claiming, lets running workflows reach their next pause (renewing their leases meanwhile), stops the rest
and hands their leases back; only then are the broker connection, the CBR clients and the database pool
closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from orchestrator.broker import Intake, Relay, Topology, declare_topology
from orchestrator.broker.callbacks import CallbackDeliverer
from orchestrator.broker.gauges import OutboxGauge, QueueGauges
from orchestrator.broker.readiness import readiness
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine import CbrActions, Engine
from orchestrator.engine.backup_ages import BackupAgeGauges
from orchestrator.engine.posture_loop import keep_fresh
from orchestrator.observability.metrics_server import metrics_served
from orchestrator.observability.refresher import refreshing
from orchestrator.polling.poller import Poller
from orchestrator.ratelimit import RateLimiters
from orchestrator.store import Store

log = logging.getLogger(__name__)

DRAIN_CHECK_SECONDS = 0.2


@dataclass
class WorkerParts:
    store: Store
    connection: AbstractRobustConnection  # the intake's
    relay_connection: AbstractRobustConnection
    topology: Topology
    engine: Engine
    relay: Relay
    intake: Intake
    clients: CbrClients
    limiters: RateLimiters | None = None
    consumer_tag: str | None = None
    callbacks: CallbackDeliverer | None = None  # None: no callback secret, so no command names a callback


async def run_worker(
    settings: Settings, stop_event: asyncio.Event, *, drain: bool = False, owner: str | None = None
) -> None:
    """Run until ``stop_event`` is set (or, with ``drain``, until there is nothing left to do); once
    started, serve the metrics endpoint meanwhile (unless its port is 0)."""
    parts = await _start(settings, owner)
    try:
        async with (
            metrics_served(settings.metrics, functools.partial(readiness, settings)),
            _gauges_refreshed(parts, settings),
        ):
            await _run(parts, settings, stop_event, drain)
    finally:
        await _close(parts)


async def _run(parts: WorkerParts, settings: Settings, stop_event: asyncio.Event, drain: bool) -> None:
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks = [
            asyncio.create_task(parts.engine.run(stop_event), name="engine"),
            asyncio.create_task(parts.relay.run(stop_event), name="relay"),
            asyncio.create_task(_stop_consuming_on_stop(parts, stop_event), name="intake-stop"),
            asyncio.create_task(keep_fresh(parts.store, parts.clients, settings, stop_event), name="ledger"),
        ]
        if parts.callbacks is not None:
            tasks.append(asyncio.create_task(parts.callbacks.run(stop_event), name="callbacks"))
        if drain:
            tasks.append(asyncio.create_task(_stop_when_drained(parts, settings, stop_event), name="drain"))
        await _watch(tasks, stop_event)
    finally:
        stop_event.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def _gauges_refreshed(parts: WorkerParts, settings: Settings) -> AsyncIterator[None]:
    """The gauges read from the database and the broker, refreshed while the worker runs (when served)."""
    if settings.metrics.port == 0:
        yield
        return
    queues = QueueGauges(parts.connection, settings.names)
    samplers = [
        queues.sample,
        OutboxGauge(parts.store).sample,
        BackupAgeGauges(parts.store, settings.metrics, settings.coverage).sample,
    ]
    try:
        async with refreshing(settings.metrics.refresh_seconds, samplers):
            yield
    finally:
        await queues.close()


async def _start(settings: Settings, owner: str | None) -> WorkerParts:
    store = await Store.connect(
        settings.database_url,
        max_size=max(4, settings.worker.concurrency // 4),
        command_timeout=settings.database_timeout_seconds,
    )
    # intake and relay each on a connection of their own: a connection-level error on one (RabbitMQ closes
    # the whole connection) never takes the other down
    connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=settings.worker.prefetch)
    topology = await declare_topology(consume_channel, settings.names, settings.worker.delivery_limit)
    relay_connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    events_channel = await relay_connection.channel(publisher_confirms=True)
    events = await events_channel.get_exchange(settings.names.events_exchange)
    replies_channel = await relay_connection.channel(publisher_confirms=True)
    limiters = (
        await RateLimiters.open(settings.database_url, settings.rate_limit)
        if settings.rate_limit.enabled
        else None
    )
    clients = CbrClients(settings, limiters=limiters)
    engine = Engine(store, settings, CbrActions(clients, Poller(clients)), owner)
    relay = Relay(
        store,
        replies_channel,
        events,
        poll_seconds=settings.worker.relay_poll_seconds,
        reply_attempts=settings.worker.reply_attempts,
        publish_timeout=settings.worker.publish_timeout_seconds,
    )
    intake = Intake(store, settings, topology)
    tag = await topology.commands.consume(intake.handle)
    log.info("worker %s started", engine.owner)
    parts = WorkerParts(
        store, connection, relay_connection, topology, engine, relay, intake, clients, limiters, tag
    )
    if settings.api.callback_secret is not None:
        parts.callbacks = CallbackDeliverer(
            store, settings.api, poll_seconds=settings.worker.relay_poll_seconds
        )
    return parts


async def _stop_consuming_on_stop(parts: WorkerParts, stop_event: asyncio.Event) -> None:
    """Once stopping, take no more commands: the broker gives unacked ones to other workers."""
    await stop_event.wait()
    if parts.consumer_tag is not None:
        try:
            await parts.topology.commands.cancel(parts.consumer_tag)
        except Exception as exc:  # the channel may be gone already; closing it requeues them too
            log.warning("could not stop consuming commands (%s)", type(exc).__name__)


async def _watch(tasks: list[asyncio.Task[None]], stop_event: asyncio.Event) -> None:
    """Wait for all tasks; if one dies, stop the others (and re-raise its error)."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [t for t in done if not t.cancelled() and t.exception() is not None]
    if failed:
        stop_event.set()
        await asyncio.wait(tasks)
        raise failed[0].exception()  # type: ignore[misc]


async def _stop_when_drained(parts: WorkerParts, settings: Settings, stop_event: asyncio.Event) -> None:
    """Set ``stop_event`` once nothing is left. A check that fails (the broker or the database away for a
    moment) is not an answer: it is tried again, and the worker goes on meanwhile."""
    channel = await parts.connection.channel()
    try:
        while not stop_event.is_set():
            await asyncio.sleep(DRAIN_CHECK_SECONDS)
            try:
                drained = await _drained(parts, settings, channel)
            except Exception as exc:
                log.warning("drain check failed (%s); retrying", type(exc).__name__)
                continue
            if drained:
                stop_event.set()
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def _drained(parts: WorkerParts, settings: Settings, channel: AbstractRobustChannel) -> bool:
    # robust=False: a robust channel caches a passive declaration and returns the cached queue (with its
    # first message count, forever) on the next one; this asks the broker every time
    queue = await channel.declare_queue(settings.names.commands_queue, passive=True, robust=False)
    if queue.declaration_result.message_count or parts.intake.in_flight or parts.engine.busy:
        return False
    return await parts.store.unfinished_count() == 0 and await parts.store.unpublished_count() == 0


async def _close(parts: WorkerParts) -> None:
    with contextlib.suppress(Exception):
        await parts.connection.close()
    with contextlib.suppress(Exception):
        await parts.relay_connection.close()
    await parts.clients.close()
    if parts.limiters is not None:
        await parts.limiters.close()
    await parts.store.close()
    log.info("worker %s stopped", parts.engine.owner)


@contextlib.contextmanager
def stop_on_signals(stop_event: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop_event``; the previous handlers are restored on exit."""
    loop = asyncio.get_running_loop()
    sigs = (signal.SIGINT, signal.SIGTERM)
    for sig in sigs:
        loop.add_signal_handler(sig, stop_event.set)
    try:
        yield
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)
