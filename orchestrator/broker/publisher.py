"""Publishing commands (what ``cbr-orchestrator submit`` does)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aio_pika

from orchestrator.broker.topology import declare_topology
from orchestrator.config import Names, Settings
from orchestrator.messages import AnyCommand


def command_message(command: AnyCommand) -> aio_pika.Message:
    return aio_pika.Message(
        command.model_dump_json(exclude_none=True).encode(),
        content_type="application/json",
        message_id=command.command_id,
        correlation_id=command.correlation_id,
        reply_to=command.reply_to,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


async def publish_raw(channel: aio_pika.abc.AbstractChannel, names: Names, bodies: Sequence[bytes]) -> None:
    """Publish raw bodies to the commands queue, awaiting every confirm (tests use it for bad input)."""
    for body in bodies:
        msg = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await channel.default_exchange.publish(msg, routing_key=names.commands_queue)


async def submit(settings: Settings, *commands: AnyCommand) -> None:
    """Publish commands to the commands queue with publisher confirms (pipelined).

    The topology is declared first (idempotently), so a command sent before any worker started waits
    in its queue instead of being dropped as unroutable.
    """
    connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare_topology(channel, settings.names, settings.worker.delivery_limit)
        await asyncio.gather(
            *(
                channel.default_exchange.publish(
                    command_message(c), routing_key=settings.names.commands_queue
                )
                for c in commands
            )
        )
