"""The draining worker's "is anything left?" check asks the broker afresh every time.

Regression: the check used a passive ``declare_queue`` on a robust channel, which caches the first answer
(and its message count) and returns it for ever after, so a worker could stop with commands still queued,
or never stop. It also let a failed check (broker or database restarting) kill the worker.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import cast

import aio_pika
import pytest
from resilience_helpers import SHARED_AMQP_URL

from orchestrator.config import Names, Settings
from orchestrator.worker import WorkerParts, _drained

pytestmark = pytest.mark.resilience


class IdleStore:
    async def unfinished_count(self) -> int:
        return 0

    async def unpublished_count(self) -> int:
        return 0


async def test_drain_check_sees_each_new_message_count() -> None:
    names = Names(prefix=f"test.drain-check.{uuid.uuid4().hex[:10]}")
    settings = Settings(names=names)
    intake = SimpleNamespace(in_flight=0)
    parts = cast(
        WorkerParts, SimpleNamespace(engine=SimpleNamespace(busy=False), intake=intake, store=IdleStore())
    )
    connection = await aio_pika.connect_robust(SHARED_AMQP_URL)
    async with connection:
        setup = await connection.channel()
        queue = await setup.declare_queue(names.commands_queue, durable=False, auto_delete=False)
        try:
            channel = await connection.channel()
            assert await _drained(parts, settings, channel) is True  # empty queue, nothing unfinished
            intake.in_flight = 1  # a command received, not yet committed: the queue no longer counts it
            assert await _drained(parts, settings, channel) is False
            intake.in_flight = 0
            await setup.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=names.commands_queue)
            assert await _drained(parts, settings, channel) is False  # the same channel sees the message
            await queue.purge()
            assert await _drained(parts, settings, channel) is True
        finally:
            await setup.queue_delete(names.commands_queue)
