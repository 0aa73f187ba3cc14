"""Read-only views for ``cbr-orchestrator status``: a list of workflows, or one with its history.

A fleet's detail reads a bounded part of its children (the first ones, and the first failures); its
resources are read a page at a time (``fleet_resources``), so showing a fleet of 100,000 resources costs
about what showing a backup does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from orchestrator.store.fleet_children import ChildRow, FleetChildren, ResourceRow
from orchestrator.store.models import JsonDict, Step, StepOutcome, StoredStep, Workflow, WorkflowStatus
from orchestrator.store.named_sql import q

CHILDREN_SHOWN = 50  # a fleet's children listed in its detail
STEPS_SHOWN = 100  # the last steps of a workflow listed in its detail (a fleet of 100,000 makes 2,000+)
PROBLEMS_SHOWN = 50  # a fleet's failed or skipped resources listed in its detail


@dataclass(frozen=True)
class EventRow:
    """An event as ``status`` shows it: when it was published and, when its command named a ``reply_to``
    queue, how the reply fared; its body only when asked for (``status ID --events``)."""

    event_id: str
    routing_key: str
    created_at: datetime
    published_at: datetime | None
    reply_to: str | None = None
    replied_at: datetime | None = None
    reply_attempts: int = 0
    reply_error: str | None = None
    reply_parked_at: datetime | None = None
    body: JsonDict | None = None

    @property
    def reply(self) -> str | None:
        """``delivered``, ``parked`` (given up: see ``reply_error``), ``pending``; None without reply_to."""
        if self.reply_to is None:
            return None
        if self.replied_at is not None:
            return "delivered"
        return "parked" if self.reply_parked_at is not None else "pending"


@dataclass(frozen=True)
class WorkflowFilter:
    """Which workflows a page lists (None: any); ``after``: the (created_at, id) of the last one listed."""

    kind: str | None = None
    status: WorkflowStatus | None = None
    projects: frozenset[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    after: tuple[datetime, uuid.UUID] | None = None


@dataclass(frozen=True)
class FleetDetail:
    children: list[ChildRow]  # the first CHILDREN_SHOWN
    children_total: int
    problems: list[ResourceRow]  # the first PROBLEMS_SHOWN failed or skipped resources


@dataclass(frozen=True)
class WorkflowDetail:
    workflow: Workflow
    steps: list[StoredStep]  # the last STEPS_SHOWN, oldest first
    events: list[EventRow]
    fleet: FleetDetail | None = None
    steps_total: int | None = None  # None: ``steps`` is every step

    @property
    def steps_count(self) -> int:
        return len(self.steps) if self.steps_total is None else self.steps_total

    @property
    def parked_replies(self) -> list[EventRow]:
        """Events whose reply could not be delivered to ``reply_to`` and is no longer tried."""
        return [e for e in self.events if e.reply == "parked"]


class StatusReads:
    """What ``status`` shows, as the store hands it out (``store.status``)."""

    def __init__(self, pool: asyncpg.Pool, fleet: FleetChildren) -> None:
        self._pool = pool
        self._fleet = fleet

    async def shown(self, status: WorkflowStatus | None = None, limit: int = 50) -> list[Workflow]:
        """The newest workflows, optionally of one status: not a fleet's children (the fleet's detail
        lists them), and a fleet's selection left out of its input."""
        rows = await self._pool.fetch(q("workflows_shown"), status.value if status else None, limit)
        return [Workflow.from_record(r) for r in rows]

    async def page(self, chosen: WorkflowFilter, limit: int) -> list[Workflow]:
        """Up to ``limit`` workflows that ``chosen`` names, newest first (not a fleet's children, and a
        fleet's selection left out of its input)."""
        after_at, after_id = chosen.after or (None, None)
        projects = sorted(chosen.projects) if chosen.projects is not None else None
        status = chosen.status.value if chosen.status else None
        rows = await self._pool.fetch(
            q("workflows_page"),
            chosen.kind,
            status,
            projects,
            chosen.created_after,
            chosen.created_before,
            after_at,
            after_id,
            limit,
        )
        return [Workflow.from_record(r) for r in rows]

    async def detail(self, ref: str, payloads: bool = False) -> WorkflowDetail | None:
        """One workflow, by workflow id or command id, with its step history and events (with their
        bodies when ``payloads``)."""
        workflow = await self.find(ref)
        if workflow is None:
            return None
        rows = await self._pool.fetch(q("events_shown"), workflow.id, payloads)
        events = [EventRow(**dict(r)) for r in rows]
        fleet = await self._fleet_detail(workflow.id) if workflow.kind == "fleet_backup" else None
        steps = await read_steps(self._pool, workflow.id, last=STEPS_SHOWN)
        total = len(steps)
        if total == STEPS_SHOWN:  # perhaps more
            total = int(await self._pool.fetchval(q("count_steps"), workflow.id))
        return WorkflowDetail(workflow, steps, events, fleet, total)

    async def find(self, ref: str) -> Workflow | None:
        """A workflow by workflow id or command id, without a fleet's selection (which ``status`` never
        shows and which holds up to 100,000 resource ids)."""
        try:
            by_id: uuid.UUID | None = uuid.UUID(ref)
        except ValueError:
            by_id = None
        row = await self._pool.fetchrow(q("workflow_shown"), by_id, ref)
        return None if row is None else Workflow.from_record(row)

    async def _fleet_detail(self, parent_id: uuid.UUID) -> FleetDetail:
        children, total = await self._fleet.children_page(parent_id, CHILDREN_SHOWN)
        problems = await self._fleet.first_problems(parent_id, PROBLEMS_SHOWN)
        return FleetDetail(children, total, problems)


async def read_steps(pool: asyncpg.Pool, workflow_id: uuid.UUID, last: int | None = None) -> list[StoredStep]:
    """The workflow's step history (its ``last`` steps only, when given), oldest first."""
    if last is None:
        rows = await pool.fetch(q("list_steps"), workflow_id)
    else:
        rows = list(reversed(await pool.fetch(q("last_steps"), workflow_id, last)))
    return [
        StoredStep(
            r["id"],
            r["worker"],
            Step(
                operation=r["operation"],
                outcome=StepOutcome(r["outcome"]),
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                request=r["request"],
                response=r["response"],
                error_code=r["error_code"],
                error_message=r["error_message"],
            ),
        )
        for r in rows
    ]
