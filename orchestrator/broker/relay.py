"""Outbox relay: publish committed events to the events exchange (and ``reply_to``) with confirms.

Woken by NOTIFY on the outbox; polls as a fallback. Delivery is at least once: a crash between the
broker's confirm and the commit republishes, and consumers drop duplicates by the stable event id.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from orchestrator.store import OUTBOX_CHANNEL, Listener, OutboxEvent, PendingEvent, Store

log = logging.getLogger(__name__)


def event_message(event: OutboxEvent, correlation_id: str | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        json.dumps(event.body).encode(),
        content_type="application/cloudevents+json",
        message_id=event.event_id,
        correlation_id=correlation_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers={"ce-id": event.event_id, "ce-type": str(event.body.get("type", ""))},
    )


class Relay:
    def __init__(
        self,
        store: Store,
        channel: AbstractChannel,
        events: AbstractExchange,
        poll_seconds: float = 2.0,
        batch_size: int = 256,
    ) -> None:
        self._store = store
        self._channel = channel
        self._events = events
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._listener = Listener(store.dsn, OUTBOX_CHANNEL)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    published = await self.publish_batch()
                except Exception as exc:  # broker or database unavailable: the outbox keeps the events
                    log.warning("relay: cannot publish now (%s); retrying", type(exc).__name__)
                    published = 0
                    await asyncio.sleep(self._poll_seconds)
                if published < self._batch_size:
                    await self._listener.wait(self._poll_seconds)
        finally:
            await self._listener.close()

    def wake(self) -> None:
        self._listener.wake()

    async def publish_batch(self) -> int:
        """Publish one batch of unpublished events; return how many were confirmed."""
        async with self._store.outbox_batch(self._batch_size) as batch:
            if not batch.events:
                return 0
            results = await asyncio.gather(*(self._publish(p) for p in batch.events), return_exceptions=True)
            for pending, result in zip(batch.events, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning(
                        "relay: event %s not confirmed (%s)", pending.event.event_id, type(result).__name__
                    )
                else:
                    batch.mark(pending)
            return len(batch.published)

    async def _publish(self, pending: PendingEvent) -> None:
        event = pending.event
        await self._events.publish(event_message(event), routing_key=event.routing_key)
        if event.reply_to:
            reply = event_message(event, event.correlation_id)
            await self._channel.default_exchange.publish(reply, routing_key=event.reply_to)
