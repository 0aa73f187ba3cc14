"""Scheduled fleets' rows (``store.schedules``): each schedule, what its last occurrence did, and the tick
that submits due occurrences under the schedulers' advisory lock, in one transaction with the record of
what it did."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.store.fencing import Conn
from orchestrator.store.models import JsonDict, NewWorkflow
from orchestrator.store.named_sql import q

SCHEDULER_LOCK = 0x6362_7363  # "cbsc": the advisory-lock key of the scheduler leader, per tick


@dataclass(frozen=True)
class NewSchedule:
    id: uuid.UUID
    name: str
    rrule: str
    time_zone: str
    dtstart: datetime
    template: JsonDict  # a fleet_backup command without its command id
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleRow:
    id: uuid.UUID
    name: str
    rrule: str
    time_zone: str
    dtstart: datetime
    template: JsonDict
    enabled: bool
    created_at: datetime
    last_occurrence: datetime | None  # the newest occurrence dealt with
    last_command_id: str | None
    last_skipped: int
    last_refusal: str | None
    last_run_at: datetime | None
    last_workflow_id: uuid.UUID | None  # the workflow of last_command_id (list only)
    last_status: str | None


def _row(record: Any) -> ScheduleRow:
    return ScheduleRow(**{name: record[name] for name in ScheduleRow.__dataclass_fields__})


class Schedules:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, new: NewSchedule) -> ScheduleRow | None:
        """Insert the schedule; None when its name is taken (nothing changed)."""
        inserted = await self._pool.fetchrow(
            q("insert_schedule"),
            new.id,
            new.name,
            new.rrule,
            new.time_zone,
            new.dtstart,
            new.template,
            new.enabled,
        )
        return None if inserted is None else _row(inserted)

    async def remove(self, name: str) -> bool:
        """Delete the schedule named ``name``; False when there is none."""
        return await self._pool.fetchval(q("delete_schedule"), name) is not None

    async def all(self) -> list[ScheduleRow]:
        return [_row(r) for r in await self._pool.fetch(q("list_schedules"))]

    @asynccontextmanager
    async def leader_tick(self) -> AsyncIterator[LeaderTick | None]:
        """A transaction holding the schedulers' lock (None: another scheduler holds it now); what the
        tick submits and records commits together at the end of the block."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(q("schedule_leader_lock"), SCHEDULER_LOCK):
                yield None
                return
            rows = [_row(r) for r in await conn.fetch(q("enabled_schedules"))]
            yield LeaderTick(conn, rows)


class LeaderTick:
    """One tick of the leader: the enabled schedules, and what it does about each."""

    def __init__(self, conn: Conn, schedules: list[ScheduleRow]) -> None:
        self._conn = conn
        self.schedules = schedules

    async def submit(
        self, schedule_id: uuid.UUID, occurrence: datetime, skipped: int, new: NewWorkflow
    ) -> bool:
        """Insert the occurrence's workflow (as intake does: nothing when its command id is known) and
        record the run; True when the workflow is new."""
        inserted = await self._conn.fetch(
            q("insert_workflows"),
            [new.id],
            [new.command_id],
            [new.kind],
            [new.project_id],
            [new.region],
            [new.input],
            [new.state],
            [new.deadline],
            [new.reply_to],
            [new.correlation_id],
            [new.traceparent],
        )
        await self.record(schedule_id, occurrence, skipped, new.command_id, None)
        return bool(inserted)

    async def record(
        self,
        schedule_id: uuid.UUID,
        occurrence: datetime,
        skipped: int,
        command_id: str | None,
        refusal: str | None,
    ) -> None:
        """The occurrence is dealt with: run (``command_id``), refused, or beyond the catch-up window."""
        record = q("record_schedule_run")
        await self._conn.execute(record, schedule_id, occurrence, command_id, skipped, refusal)
