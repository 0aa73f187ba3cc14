"""Callback deliveries as PostgreSQL keeps them (``store.callbacks``): written with the final event of a
workflow whose command named a callback URL (sql/010_callbacks.sql), claimed and recorded by the
deliverer (:mod:`orchestrator.broker.callbacks`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.store.named_sql import q

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class DueCallback:
    id: int
    event_id: str
    workflow_id: uuid.UUID
    url: str
    attempts: int  # this one included
    created_at: datetime
    body: dict[str, Any]  # the event
    traceparent: str | None = None  # its workflow's command's (sql/011_traceparent.sql)


@dataclass(frozen=True)
class CallbackRecord:
    id: int
    event_id: str
    workflow_id: uuid.UUID
    url: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    given_up_at: datetime | None


class Callbacks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, limit: int, lease_seconds: float) -> list[DueCallback]:
        """Up to ``limit`` due deliveries, each counted as an attempt and not due again for
        ``lease_seconds`` unless recorded otherwise."""
        rows = await self._pool.fetch(q("claim_callbacks"), limit, lease_seconds)
        return [DueCallback(**dict(r)) for r in rows]

    async def delivered(self, callback_id: int) -> None:
        await self._pool.execute(q("callback_delivered"), callback_id)

    async def failed(self, callback_id: int, error: str, retry_in_seconds: float) -> None:
        await self._pool.execute(q("callback_failed"), callback_id, error[:MAX_ERROR_CHARS], retry_in_seconds)

    async def give_up(self, callback_id: int, error: str) -> None:
        await self._pool.execute(q("callback_given_up"), callback_id, error[:MAX_ERROR_CHARS])

    async def of(self, workflow_id: uuid.UUID) -> list[CallbackRecord]:
        rows = await self._pool.fetch(q("callbacks_of"), workflow_id)
        return [CallbackRecord(**dict(r)) for r in rows]
