"""The event stream: outbox rows numbered in the order they become visible, and read by position.

The outbox id is taken at insert, not at commit, so it cannot be a reader's cursor (sql/009_event_stream.sql).
:meth:`EventStream.sequence` numbers the committed rows under a transaction-level advisory lock; a reader
that sees position N sees every position below N, so reading "after N" never skips an event.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

import asyncpg

from orchestrator.store.models import JsonDict
from orchestrator.store.named_sql import q

SEQUENCE_BATCH = 1000


@dataclass(frozen=True)
class StreamEvent:
    seq: int  # the position in the stream (the SSE id)
    workflow_id: uuid.UUID
    kind: str  # the workflow's
    project_id: str
    body: JsonDict  # the CloudEvent, as published


@dataclass(frozen=True)
class EventFilter:
    projects: Collection[str] | None = None  # the projects the reader may see; None: every project
    kind: str | None = None
    project: str | None = None
    workflow: uuid.UUID | None = None


@dataclass(frozen=True)
class StreamPage:
    events: list[StreamEvent]
    cursor: int  # read on after this position: every event up to it was either returned or filtered out


class EventStream:
    """The event stream, as the store hands it out (``store.events``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def sequence(self, batch: int = SEQUENCE_BATCH) -> int:
        """Number every committed row that has no position yet; how many this call numbered."""
        numbered = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(q("lock_event_sequencer"))
                done = len(await conn.fetch(q("sequence_events"), batch))
            numbered += done
            if done < batch:
                return numbered

    async def latest(self) -> int:
        """The greatest position given so far (0: none)."""
        latest: int = await self._pool.fetchval(q("latest_stream_seq"))
        return latest

    async def after(self, cursor: int, only: EventFilter, limit: int = 500) -> StreamPage:
        """The first ``limit`` events after position ``cursor`` that pass ``only``, oldest first."""
        projects = None if only.projects is None else list(only.projects)
        rows = await self._pool.fetch(
            q("stream_events_after"), cursor, projects, only.kind, only.project, only.workflow, limit
        )
        events = [
            StreamEvent(r["stream_seq"], r["workflow_id"], r["kind"], r["project_id"], r["body"])
            for r in rows
            if r["stream_seq"] is not None
        ]
        if len(events) == limit:
            return StreamPage(events, events[-1].seq)
        return StreamPage(events, max(cursor, rows[0]["top"]))
