"""Replies that did not reach their ``reply_to`` queue, as the relay records them on the workflow's events.

The relay publishes each reply as mandatory: a queue that does not exist returns it. It tries again a
bounded number of times (``worker.reply_attempts``), then parks the reply with its error. These functions
read that record back for ``status`` and ``submit --wait``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class FailedReply:
    """The reply of one event, not delivered: still retried (``parked_at`` None) or given up."""

    event_id: str
    routing_key: str
    reply_to: str
    attempts: int
    error: str
    parked_at: datetime | None

    @property
    def parked(self) -> bool:
        return self.parked_at is not None


class Replies:
    """The replies' delivery record, as the store hands it out (``store.replies``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def failures(self, workflow_id: uuid.UUID) -> list[FailedReply]:
        """The workflow's replies that failed and were not delivered since, in the order of their events."""
        rows = await self._pool.fetch(q("reply_failures"), workflow_id)
        return [
            FailedReply(
                r["event_id"],
                r["routing_key"],
                r["reply_to"],
                r["reply_attempts"],
                r["reply_error"],
                r["reply_parked_at"],
            )
            for r in rows
        ]

    async def untried(self, workflow_id: uuid.UUID) -> int:
        """How many of the workflow's replies the relay has not tried to deliver yet."""
        n: int = await self._pool.fetchval(q("replies_untried"), workflow_id)
        return n
