"""The soak's own RabbitMQ traffic survives the broker's restart: no event goes unread, no command unsent.

A soak that stopped reading events after RabbitMQ's restart would report every later command as lost
(the events would wait in the queue, unread): its own reader must reconnect and consume again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import aio_pika
import pytest

from orchestrator.bench.soak.plan import Outgoing
from orchestrator.bench.soak.services import PrivateRabbit
from orchestrator.bench.soak.traffic import EventLog, Publisher
from orchestrator.broker import declare_topology
from orchestrator.config import Names

pytestmark = pytest.mark.soak
# A quorum queue SIGKILLed within seconds of its creation stays unavailable for minutes after the restart
# (RabbitMQ 3.10); the soak's queues are older than that when the broker is killed, and so are these.
QUORUM_SETTLE_SECONDS = 10


@pytest.fixture(scope="module")
def rabbit() -> Iterator[PrivateRabbit]:
    broker = PrivateRabbit()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


def event(command_id: str) -> bytes:
    data = {"command_id": command_id, "outcome": "succeeded"}
    return json.dumps({"id": str(uuid.uuid4()), "data": data}).encode()


async def publish_events(url: str, names: Names, command_ids: list[str]) -> None:
    """Publish with confirms, trying again while the broker is still coming up after its restart."""
    for _ in range(60):
        try:
            await asyncio.wait_for(_publish(url, names, command_ids), 5)
            return
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
            await asyncio.sleep(0.5)
    raise AssertionError("the broker never took the events")


async def _publish(url: str, names: Names, command_ids: list[str]) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.events_exchange)
        for command_id in command_ids:
            message = aio_pika.Message(event(command_id), delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await exchange.publish(message, routing_key="workflow.backup.succeeded")


async def wait_for(events: EventLog, count: int, seconds: float = 30) -> None:
    for _ in range(int(seconds * 10)):
        if events.finals_distinct >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{events.finals_distinct} of {count} events read in {seconds} s")


async def test_events_are_read_before_and_after_a_broker_sigkill(rabbit: PrivateRabbit) -> None:
    names = Names(prefix=f"test.soak-traffic.{uuid.uuid4().hex[:8]}")
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        await declare_topology(await connection.channel(), names, delivery_limit=5)
    events = EventLog()
    await events.start(rabbit.url, names)
    try:
        await publish_events(rabbit.url, names, ["before"])
        await wait_for(events, 1)
        await asyncio.sleep(QUORUM_SETTLE_SECONDS)
        await asyncio.to_thread(rabbit.restart, True)
        await publish_events(rabbit.url, names, ["after-1", "after-2"])
        await wait_for(events, 3)
    finally:
        await events.close()
    assert set(events.finals) == {"before", "after-1", "after-2"}
    assert events.reconnects >= 1


async def test_commands_sent_across_a_broker_sigkill_all_arrive(rabbit: PrivateRabbit) -> None:
    queue_name = f"test.soak-traffic.{uuid.uuid4().hex[:8]}.commands"
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
    messages = [Outgoing(f"body-{i}".encode(), f"id-{i}", "backup", f"id-{i}") for i in range(20)]
    await asyncio.sleep(QUORUM_SETTLE_SECONDS)
    publisher = Publisher(rabbit.url, queue_name)
    sending = asyncio.create_task(publisher.run(messages, seconds=4))
    await asyncio.sleep(1)
    await asyncio.to_thread(rabbit.restart, True)
    await asyncio.wait_for(sending, 60)

    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        bodies = set()
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.add(message.body)
        await channel.queue_delete(queue_name)
    assert publisher.confirmed == 20
    assert bodies == {m.body for m in messages}, "each message at least once"
