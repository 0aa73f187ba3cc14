"""Commands refused at intake, as PostgreSQL records them: who (command id, message id), why, how big, when.

Intake records a refusal besides dead-lettering the message (whose body only the dead letter keeps), so
that ``status <command id>``, ``refusals`` and ``submit --wait`` can say why a command has no workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.store.named_sql import q

MAX_REASON_CHARS = 1000  # as in the dead letter's reason header


@dataclass(frozen=True)
class NewRefusal:
    command_id: str | None  # None when the message named none that could be read
    message_id: str | None
    reason: str
    size_bytes: int


@dataclass(frozen=True)
class Refusal(NewRefusal):
    id: int
    refused_at: datetime

    @classmethod
    def from_record(cls, record: Any) -> Refusal:
        return cls(**dict(record))


class Refusals:
    """The refusals, as the store hands them out (``store.refusals``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, refusal: NewRefusal) -> int:
        """Record ``refusal``; its id."""
        refusal_id: int = await self._pool.fetchval(
            q("insert_refusal"),
            refusal.command_id,
            refusal.message_id,
            refusal.reason[:MAX_REASON_CHARS],
            refusal.size_bytes,
        )
        return refusal_id

    async def of(self, ref: str, after_id: int = 0, limit: int = 20) -> list[Refusal]:
        """The newest ``limit`` refusals of the messages with command id or message id ``ref`` (after
        ``after_id``), oldest first."""
        rows = await self._pool.fetch(q("refusals_of"), ref, after_id, limit)
        return [Refusal.from_record(r) for r in rows]

    async def recent(self, limit: int = 50) -> list[Refusal]:
        """The newest refusals, newest first."""
        return [Refusal.from_record(r) for r in await self._pool.fetch(q("recent_refusals"), limit)]

    async def last_id(self) -> int:
        """The id of the newest refusal (0: none): a later refusal has a greater one."""
        last: int = await self._pool.fetchval(q("last_refusal_id"))
        return last
