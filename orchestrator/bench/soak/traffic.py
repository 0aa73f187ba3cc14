"""The soak's own traffic with RabbitMQ: commands out (paced, confirmed), events in (kept, acked).

Both survive a broker restart the way a careful client does: robust connections that reconnect, a
publish re-sent until the broker confirms it (so a lost confirm may publish a message twice, a duplicate
the orchestrator must absorb), and events read from a durable quorum queue, so none is lost meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from orchestrator.bench.soak.plan import Outgoing
from orchestrator.config import Names

PUBLISH_TIMEOUT = 5.0
RESEND_PAUSE = 0.5
RECONNECT_SECONDS = 0.5
SUBSCRIBE_TIMEOUT = 10.0  # a queue still recovering after the broker's restart may not answer at all


def with_reconnect(url: str) -> str:
    """The AMQP URL with a short reconnect interval (robust connections retry that often)."""
    if "reconnect_interval=" in url:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}reconnect_interval={RECONNECT_SECONDS}"


def _message(outgoing: Outgoing) -> aio_pika.Message:
    return aio_pika.Message(
        outgoing.body,
        content_type="application/json",
        message_id=outgoing.message_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


@dataclass
class Publisher:
    """Publishes messages one by one, evenly over a given time, each until the broker confirms it."""

    url: str
    queue: str
    confirmed: int = 0
    resends: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    async def run(self, messages: Sequence[Outgoing], seconds: float) -> None:
        connection = await aio_pika.connect_robust(with_reconnect(self.url))
        try:
            channel = await connection.channel(publisher_confirms=True)
            loop = asyncio.get_running_loop()
            began = loop.time()
            for number, outgoing in enumerate(messages):
                due = began + seconds * number / max(1, len(messages))
                await asyncio.sleep(max(0.0, due - loop.time()))
                await self._publish(channel, outgoing)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _publish(self, channel: aio_pika.abc.AbstractChannel, outgoing: Outgoing) -> None:
        while True:
            try:
                publishing = channel.default_exchange.publish(_message(outgoing), routing_key=self.queue)
                await asyncio.wait_for(publishing, PUBLISH_TIMEOUT)
                self.confirmed += 1
                return
            except Exception as exc:  # the broker is restarting: no confirm came, so send again
                self.errors[type(exc).__name__] += 1
                self.resends += 1
                await asyncio.sleep(RESEND_PAUSE)


@dataclass
class EventLog:
    """Every event that reached a durable queue bound to the events exchange.

    It reads through a connection of its own that it opens again whenever it is lost (rather than a
    robust connection: after a broker restart under load, aio-pika's restore can leave the queue
    without its consumer, and the events would wait in the queue, unread, for ever).
    """

    total: int = 0
    ids: set[str] = field(default_factory=set)
    finals_total: int = 0
    finals: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # command id → event ids
    outcomes: dict[str, str] = field(default_factory=dict)  # final event id → outcome
    unreadable: int = 0
    reconnects: int = 0
    _reading: asyncio.Task[None] | None = None

    async def start(self, url: str, names: Names) -> None:
        """Return once the queue is consumed; go on reading (and reconnecting) until :meth:`close`."""
        subscribed = asyncio.Event()
        self._reading = asyncio.create_task(self._read(url, names, subscribed))
        await subscribed.wait()

    async def _read(self, url: str, names: Names, subscribed: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(Exception):  # the broker is away, or went away: connect again
                await self._read_until_lost(url, names, subscribed)
            self.reconnects += 1
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _read_until_lost(self, url: str, names: Names, subscribed: asyncio.Event) -> None:
        connection = await aio_pika.connect(url, timeout=PUBLISH_TIMEOUT)
        lost = asyncio.Event()
        try:
            connection.close_callbacks.add(lambda *_: lost.set())
            channel = await connection.channel()
            channel.close_callbacks.add(lambda *_: lost.set())
            await asyncio.wait_for(self._subscribe(channel, names), SUBSCRIBE_TIMEOUT)
            subscribed.set()
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _subscribe(self, channel: aio_pika.abc.AbstractChannel, names: Names) -> None:
        await channel.set_qos(prefetch_count=500)
        queue = await channel.declare_queue(
            f"{names.prefix}.soak-events", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(names.events_exchange, routing_key="#")
        await queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.note(message.body)
        with contextlib.suppress(Exception):  # a lost ack means a redelivery: a counted duplicate
            await message.ack()

    def note(self, body: bytes) -> None:
        """Count one event, as read from the queue."""
        self.total += 1
        try:
            event = json.loads(body)
            event_id, data = str(event["id"]), event["data"]
            command_id, outcome = str(data["command_id"]), str(data["outcome"])
        except (ValueError, KeyError, TypeError):
            self.unreadable += 1
            return
        self.ids.add(event_id)
        if outcome != "progress":
            self.finals_total += 1
            self.finals[command_id].add(event_id)
            self.outcomes[event_id] = outcome

    @property
    def finals_distinct(self) -> int:
        return len(self.outcomes)

    def ended(self, command_ids: Sequence[str]) -> bool:
        return all(self.finals.get(c) for c in command_ids)

    async def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.gather(self._reading, return_exceptions=True)
