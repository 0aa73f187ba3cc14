"""The RabbitMQ objects the application declares: commands queue, dead letters, events exchange."""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from orchestrator.config import Names

REASON_HEADER = "x-cbr-rejection-reason"
DROPPED_HEADERS_HEADER = "x-cbr-dropped-headers"  # how many original headers a dead letter left out


@dataclass(frozen=True)
class Topology:
    commands: AbstractQueue
    events: AbstractExchange
    dead_letter_exchange: AbstractExchange
    dead_letters: AbstractQueue


async def declare_topology(channel: AbstractChannel, names: Names, delivery_limit: int) -> Topology:
    """Declare everything idempotently (same arguments every time; a mismatch fails loudly)."""
    dlx = await channel.declare_exchange(
        names.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_letters = await channel.declare_queue(
        names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_letters.bind(dlx)
    commands = await channel.declare_queue(
        names.commands_queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": names.dead_letter_exchange,
        },
    )
    events = await channel.declare_exchange(names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    return Topology(commands, events, dlx, dead_letters)


async def delete_topology(channel: AbstractChannel, names: Names) -> None:
    """Remove everything :func:`declare_topology` made (tests clean up with this)."""
    await channel.queue_delete(names.commands_queue)
    await channel.queue_delete(names.dead_letter_queue)
    await channel.exchange_delete(names.dead_letter_exchange)
    await channel.exchange_delete(names.events_exchange)
