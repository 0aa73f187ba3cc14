"""Reading the dead-letter queue without losing a message, and replaying dead letters as commands.

RabbitMQ has no peek. A look takes the messages with ``basic.get`` and manual acks, holds them all unacked
on one channel (so none is taken twice), then returns each with ``basic.nack(requeue=True)``: every message
stays, their order may change. ``basic.nack`` — not ``basic.reject`` — because a quorum queue counts a
rejection as a failed delivery towards its delivery limit (RabbitMQ ≥ 4.3; on 4.0–4.2 every return counts,
see docs/operations.md). If the process dies meanwhile, the broker requeues them all when the channel goes.

A replay publishes the dead letter to the commands queue with publisher confirms, keeping its body,
message id (the command id), correlation id, reply-to and headers, without the headers that dead-lettering
added; only once the broker confirmed it is the dead letter acked. A replayed command that was accepted
before is a duplicate at intake (its command id names its workflow), never a second workflow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, FieldValue, HeadersType

from orchestrator.broker.topology import DROPPED_HEADERS_HEADER, REASON_HEADER
from orchestrator.config import Settings

MAX_LOOK = 10_000  # messages held unacked at once by one look
GET_TIMEOUT_SECONDS = 10.0
# headers that dead-lettering adds (ours and the broker's): not part of the command, dropped on replay
DEAD_LETTERING_HEADERS = (REASON_HEADER, DROPPED_HEADERS_HEADER, "x-death", "x-delivery-count")
DEAD_LETTERING_PREFIXES = ("x-first-death-", "x-last-death-")


class NoDeadLetterQueue(LookupError):
    """The broker has no dead-letter queue of these names."""


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the message id (a command's id) when it has one, else a digest of its body
    reason: str  # why it was dead-lettered: intake's reason, or the broker's (e.g. delivery_limit)
    command_id: str | None
    kind: str | None
    project_id: str | None
    body: bytes
    headers: Mapping[str, FieldValue]
    content_type: str | None
    correlation_id: str | None
    reply_to: str | None
    dead_lettered_at: datetime | None

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        headers = dict(message.headers or {})
        command = _command_fields(message.body)
        return cls(
            id=message.message_id or "sha-" + hashlib.sha256(message.body).hexdigest()[:16],
            reason=_reason(headers),
            command_id=command.get("command_id"),
            kind=command.get("kind"),
            project_id=command.get("project_id"),
            body=message.body,
            headers=headers,
            content_type=message.content_type,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            dead_lettered_at=_death_time(headers) or message.timestamp,
        )

    def as_command_message(self) -> aio_pika.Message:
        kept: HeadersType = {
            name: value
            for name, value in self.headers.items()
            if name not in DEAD_LETTERING_HEADERS and not name.startswith(DEAD_LETTERING_PREFIXES)
        }
        return aio_pika.Message(
            self.body,
            headers=kept,
            content_type=self.content_type,
            message_id=None if self.id.startswith("sha-") else self.id,
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )


class DeadLetterLook:
    """The dead letters taken for one look; whatever is not replayed goes back when the look ends."""

    def __init__(self, channel: AbstractChannel, settings: Settings) -> None:
        self._channel = channel
        self._settings = settings
        self._held: list[tuple[DeadLetter, AbstractIncomingMessage]] = []

    @property
    def letters(self) -> list[DeadLetter]:
        return [letter for letter, _ in self._held]

    async def take(self, limit: int) -> None:
        name = self._settings.names.dead_letter_queue
        try:
            queue = await self._channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            raise NoDeadLetterQueue(f"no queue {name} (no worker has declared the topology yet)") from None
        while len(self._held) < min(limit, MAX_LOOK):
            message = await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_SECONDS)
            if message is None:
                return
            self._held.append((DeadLetter.of(message), message))

    async def replay(self, ids: set[str] | None) -> list[DeadLetter]:
        """Publish the dead letters ``ids`` names (all when None) to the commands queue, confirmed, then ack
        each; the replayed ones, in queue order."""
        replayed = []
        remaining = []
        for letter, message in self._held:
            if ids is None or letter.id in ids:
                await self._channel.default_exchange.publish(
                    letter.as_command_message(), routing_key=self._settings.names.commands_queue
                )
                await message.ack()
                replayed.append(letter)
            else:
                remaining.append((letter, message))
        self._held = remaining
        return replayed

    async def give_back(self) -> None:
        for _, message in self._held:
            await message.nack(requeue=True)
        self._held = []


@asynccontextmanager
async def dead_letter_look(settings: Settings, limit: int = MAX_LOOK) -> AsyncIterator[DeadLetterLook]:
    """Take up to ``limit`` dead letters for the block; those not replayed in it are given back."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        look = DeadLetterLook(channel, settings)
        try:
            await look.take(limit)
            yield look
        finally:
            if not channel.is_closed:
                await look.give_back()


def _command_fields(body: bytes) -> dict[str, str]:
    """The command's id, kind and project when the body is a JSON object that has them (else none)."""
    try:
        raw: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k in ("command_id", "kind", "project_id") if isinstance(v := raw.get(k), str)}


def _reason(headers: Mapping[str, FieldValue]) -> str:
    reason = headers.get(REASON_HEADER)
    if isinstance(reason, str | bytes):
        return reason.decode() if isinstance(reason, bytes) else reason
    death = headers.get("x-first-death-reason")  # dead-lettered by the broker (delivery limit, …)
    if isinstance(death, str | bytes):
        return "broker: " + (death.decode() if isinstance(death, bytes) else death)
    return "unknown"


def _death_time(headers: Mapping[str, FieldValue]) -> datetime | None:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        when = deaths[0].get("time")
        return when if isinstance(when, datetime) else None
    return None
