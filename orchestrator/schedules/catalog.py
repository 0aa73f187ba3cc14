"""Adding, removing and listing schedules, the same for the command line and the HTTP API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.schedules.rules import BadRule, next_after, read_rule
from orchestrator.schedules.spec import InvalidSchedule, ScheduleSpec, template
from orchestrator.store import Store
from orchestrator.store.schedules import NewSchedule, ScheduleRow


class ScheduleTaken(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a schedule named {name!r} exists already (remove it first)")
        self.name = name


class LastRun(BaseModel):
    """What the schedule's last occurrence did."""

    model_config = ConfigDict(frozen=True)

    occurrence: datetime | None = Field(description="The newest occurrence dealt with (run or passed over).")
    at: datetime | None = Field(description="When it was dealt with.")
    command_id: str | None = Field(description="The command the newest run submitted.")
    workflow_id: uuid.UUID | None
    outcome: str | None = Field(description="That workflow's status (pending, running, succeeded, …).")
    skipped: int = Field(description="Occurrences passed over then (missed while no worker ran), run once.")
    refusal: str | None = Field(description="Why the last occurrence submitted nothing, if it did not.")


class ScheduleView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    name: str
    rrule: str
    time_zone: str
    start: datetime
    enabled: bool
    created_at: datetime
    next_occurrence: datetime | None = Field(description="After now; none: the rule has ended.")
    last_run: LastRun
    command: dict[str, Any] = Field(description="The fleet_backup command each occurrence submits.")


class Removed(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    removed: Literal[True] = True


async def add_schedule(store: Store, spec: ScheduleSpec, now: datetime | None = None) -> ScheduleView:
    """Store the schedule; :class:`ScheduleTaken` when its name is, :class:`InvalidSchedule` when bad."""
    now = now or datetime.now(UTC)
    new = NewSchedule(
        id=uuid.uuid4(),
        name=spec.name,
        rrule=spec.rrule.strip(),
        time_zone=spec.time_zone,
        dtstart=spec.start_instant(now),
        template=template(spec),
        enabled=spec.enabled,
    )
    added = await store.schedules.add(new)
    if added is None:
        raise ScheduleTaken(spec.name)
    return view_of(added, now)


async def remove_schedule(store: Store, name: str) -> bool:
    """Remove the schedule ``name`` (its workflows stay); False when there is none."""
    return await store.schedules.remove(name)


async def list_schedules(store: Store, now: datetime | None = None) -> list[ScheduleView]:
    now = now or datetime.now(UTC)
    return [view_of(row, now) for row in await store.schedules.all()]


async def find_schedule(store: Store, name: str, now: datetime | None = None) -> ScheduleView | None:
    return next((s for s in await list_schedules(store, now) if s.name == name), None)


def view_of(row: ScheduleRow, now: datetime) -> ScheduleView:
    try:
        upcoming = next_after(read_rule(row.rrule, row.time_zone, row.dtstart, near=now), now)
    except BadRule:  # stored rules were read at add; a zone gone from the system's database
        upcoming = None
    last = LastRun(
        occurrence=row.last_occurrence,
        at=row.last_run_at,
        command_id=row.last_command_id,
        workflow_id=row.last_workflow_id,
        outcome=row.last_status,
        skipped=row.last_skipped,
        refusal=row.last_refusal,
    )
    return ScheduleView(
        id=row.id,
        name=row.name,
        rrule=row.rrule,
        time_zone=row.time_zone,
        start=row.dtstart,
        enabled=row.enabled,
        created_at=row.created_at,
        next_occurrence=upcoming,
        last_run=last,
        command=row.template,
    )


__all__ = ["InvalidSchedule", "ScheduleTaken", "add_schedule", "list_schedules", "remove_schedule"]
