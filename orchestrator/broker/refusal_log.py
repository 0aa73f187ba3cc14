"""Intake's record of the commands it refuses: one row per refused message in PostgreSQL (see
:mod:`orchestrator.store.refusals`), written after its dead letter is confirmed.

The dead letter is the message's safe copy (its body and its reason), so the refusal is dead-lettered
first, as it always was; the row is what ``status`` and ``submit --wait`` read. While the database is
unavailable the row is tried again after each of the retry delays; if it still cannot be written, the
refusal is logged and the message acked all the same: its dead letter keeps it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage

from orchestrator.messages import amqp_short_string
from orchestrator.store import Store
from orchestrator.store.refusals import NewRefusal

log = logging.getLogger(__name__)


def refusal_of(message: AbstractIncomingMessage, reason: str, command_id: str | None) -> NewRefusal:
    """The record of a refused message: no body, only its ids, its size and the reason."""
    return NewRefusal(command_id, _message_id(message), reason, len(message.body))


def _message_id(message: AbstractIncomingMessage) -> str | None:
    """The message id as printable text (a publisher may set anything), or None."""
    if not isinstance(message.message_id, str) or not message.message_id:
        return None
    try:
        return amqp_short_string(message.message_id)
    except ValueError:
        return None


class RefusalLog:
    def __init__(self, store: Store, retry_delays: Sequence[float]) -> None:
        self._store = store
        self._delays = tuple(retry_delays)

    async def record(self, refusal: NewRefusal) -> None:
        for delay in (*self._delays, None):
            try:
                await self._store.refusals.record(refusal)
                return
            except Exception as exc:  # typically the database restarting
                if delay is None:
                    log.error(
                        "refusal of command %s (message %s) not recorded (%s); its dead letter has it",
                        refusal.command_id,
                        refusal.message_id,
                        type(exc).__name__,
                    )
                    return
                log.warning("cannot record a refusal yet (%s)", type(exc).__name__)
                await asyncio.sleep(delay)
