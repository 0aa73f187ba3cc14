"""Looking at a queue without touching its messages: whether it exists, how many messages wait in it and
how many consumers it has (``submit`` uses it to explain a wait, and to warn of a ``reply_to`` queue that
does not exist)."""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
import aiormq

from orchestrator.config import Settings

PROBE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class QueueCounts:
    messages: int  # ready to be delivered (not those delivered and unacked)
    consumers: int


async def queue_counts(settings: Settings, queue: str) -> QueueCounts | None:
    """The counts of ``queue``, or None when no queue has that name."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value(), timeout=PROBE_TIMEOUT_SECONDS)
    async with connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True, timeout=PROBE_TIMEOUT_SECONDS)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return None
        result = declared.declaration_result
        return QueueCounts(result.message_count or 0, result.consumer_count or 0)


async def broker_answers(url: str, connect_timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Open a connection to ``url`` and close it: raises what the client raises when it cannot."""
    connection = await aio_pika.connect(url, timeout=connect_timeout)
    await connection.close()


@dataclass(frozen=True)
class TopologyFound:
    """What passive declarations of the application's queues and exchanges found."""

    missing: tuple[str, ...]  # "queue NAME" / "exchange NAME" not declared on the broker
    commands: QueueCounts | None
    dead_letters: QueueCounts | None


async def find_topology(settings: Settings) -> TopologyFound:
    """Passively declare every object :func:`~orchestrator.broker.topology.declare_topology` makes (one
    channel each: a failed passive declaration closes its channel); nothing is created or changed."""
    names = settings.names
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value(), timeout=PROBE_TIMEOUT_SECONDS)
    async with connection:
        missing: list[str] = []
        counts: dict[str, QueueCounts] = {}
        for queue in (names.commands_queue, names.dead_letter_queue):
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True, timeout=PROBE_TIMEOUT_SECONDS)
            except aiormq.exceptions.ChannelNotFoundEntity:
                missing.append(f"queue {queue}")
                continue
            result = declared.declaration_result
            counts[queue] = QueueCounts(result.message_count or 0, result.consumer_count or 0)
            await channel.close()
        for exchange in (names.events_exchange, names.dead_letter_exchange):
            channel = await connection.channel()
            try:
                await channel.get_exchange(exchange, ensure=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                missing.append(f"exchange {exchange}")
                continue
            await channel.close()
        return TopologyFound(
            tuple(missing), counts.get(names.commands_queue), counts.get(names.dead_letter_queue)
        )
