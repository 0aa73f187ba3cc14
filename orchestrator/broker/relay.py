"""Outbox relay: publish committed events to the events exchange, and to their ``reply_to``, with confirms.

Woken by NOTIFY on the outbox; polls as a fallback. Delivery is at least once: a crash between the
broker's confirm and the commit republishes, and consumers drop duplicates by the stable event id.

An event's two publications are tracked apart. The event goes to the events exchange until confirmed,
once. Its reply goes to ``reply_to`` only after that, as a mandatory publication so that a queue that does
not exist is noticed; a failed reply is tried again at the relay's pace, at most ``reply_attempts`` times,
then parked with its error in the outbox row. A reply therefore never blocks or repeats its event.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange

from orchestrator.crash_points import crash_point
from orchestrator.messages import amqp_short_string
from orchestrator.observability import tracing
from orchestrator.store import OUTBOX_CHANNEL, OutboxBatch, OutboxEvent, PendingEvent, Store

log = logging.getLogger(__name__)


def event_message(event: OutboxEvent, correlation_id: str | None = None) -> aio_pika.Message:
    """The event as a message; with its command's ``traceparent`` (tracing on, the instrumentation puts
    the publication's own there instead: a child of it, in the same trace)."""
    headers: aio_pika.abc.HeadersType = {
        "ce-id": event.event_id,
        "ce-type": str(event.body.get("type", "")),
    }
    if event.traceparent is not None:
        headers[tracing.TRACEPARENT] = event.traceparent
    return aio_pika.Message(
        json.dumps(event.body).encode(),
        content_type="application/cloudevents+json",
        message_id=event.event_id,
        correlation_id=correlation_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=headers,
    )


class ReplyFailed(Exception):
    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Relay:
    """``channel`` carries the replies (the default exchange); ``events`` is the events exchange. Give
    them different channels, so that a reply's trouble cannot close the channel events travel on."""

    def __init__(
        self,
        store: Store,
        channel: AbstractChannel,
        events: AbstractExchange,
        poll_seconds: float = 2.0,
        batch_size: int = 256,
        reply_attempts: int = 5,
        publish_timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._channel = channel
        self._events = events
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._reply_attempts = reply_attempts
        self._timeout = publish_timeout  # a confirm that never comes (a dead link) must not hold the batch
        self._listener = store.listen(OUTBOX_CHANNEL)

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
        """Publish one batch of events and due replies; return how many publications were confirmed."""
        async with self._store.outbox_batch(self._batch_size) as batch:
            if not batch.events:
                return 0
            await asyncio.gather(*(self._relay(batch, pending) for pending in batch.events))
            crash_point("mid_relay_batch")  # published and confirmed, not yet marked so
            return len(batch.published) + len(batch.replied)

    async def _relay(self, batch: OutboxBatch, pending: PendingEvent) -> None:
        event = pending.event
        if not pending.published:
            try:
                message = event_message(event)
                with tracing.continued(event.traceparent):
                    await self._events.publish(
                        message, routing_key=event.routing_key, mandatory=False, timeout=self._timeout
                    )
            except Exception as exc:  # tried again with the next batch
                log.warning("relay: event %s not confirmed (%s)", event.event_id, type(exc).__name__)
                return
            batch.mark(pending)
        if event.reply_to is not None:
            await self._reply(batch, pending, event.reply_to)

    async def _reply(self, batch: OutboxBatch, pending: PendingEvent, reply_to: str) -> None:
        event = pending.event
        try:
            await self._publish_reply(event, reply_to)
        except ReplyFailed as failed:
            attempts = pending.reply_attempts + 1
            if failed.permanent or attempts >= self._reply_attempts:
                log.warning(
                    "relay: reply of event %s parked after %d attempts: %s",
                    event.event_id,
                    attempts,
                    failed.reason,
                )
                batch.reply_failed(pending, failed.reason, None)
            else:
                log.info("relay: reply of event %s failed (%s); retrying", event.event_id, failed.reason)
                batch.reply_failed(pending, failed.reason, self._poll_seconds)
            return
        batch.mark_replied(pending)

    async def _publish_reply(self, event: OutboxEvent, reply_to: str) -> None:
        try:
            amqp_short_string(reply_to)
        except ValueError as exc:  # written before commands were checked for it: it can never be sent
            raise ReplyFailed(f"invalid reply_to: {exc}", permanent=True) from None
        reply = event_message(event, event.correlation_id)
        try:
            with tracing.continued(event.traceparent):
                result = await self._channel.default_exchange.publish(
                    reply, routing_key=reply_to, mandatory=True, timeout=self._timeout
                )
        except aio_pika.exceptions.PublishError as exc:  # a channel opened with on_return_raises
            raise ReplyFailed(f"unroutable ({exc.args[0] if exc.args else 'returned'})") from None
        except Exception as exc:
            raise ReplyFailed(f"not confirmed ({type(exc).__name__})") from None
        if isinstance(result, aiormq.abc.DeliveredMessage):  # returned: no queue of that name
            returned = result.delivery
            if isinstance(returned, aiormq.spec.Basic.Return):
                raise ReplyFailed(f"unroutable ({returned.reply_code} {returned.reply_text})")
            raise ReplyFailed("unroutable")
