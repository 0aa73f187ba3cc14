"""Read-only views for ``cbr-orchestrator status``: a list of workflows, or one with its history.

A fleet's detail reads a bounded part of its children (the first ones, and the first failures); its
resources are read a page at a time (``fleet_resources``), so showing a fleet of 100,000 resources costs
about what showing a backup does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from orchestrator.store import fleet_children
from orchestrator.store.fleet_children import ChildRow, ResourcePage, ResourceRow
from orchestrator.store.fleet_sql import fq
from orchestrator.store.models import StoredStep, Workflow, WorkflowStatus
from orchestrator.store.store import Store

CHILDREN_SHOWN = 50  # a fleet's children listed in its detail
PROBLEMS_SHOWN = 50  # a fleet's failed or skipped resources listed in its detail


@dataclass(frozen=True)
class EventKey:
    """An event as ``status`` lists it (its body stays in the outbox)."""

    event_id: str
    routing_key: str


@dataclass(frozen=True)
class FleetDetail:
    children: list[ChildRow]  # the first CHILDREN_SHOWN
    children_total: int
    problems: list[ResourceRow]  # the first PROBLEMS_SHOWN failed or skipped resources


@dataclass(frozen=True)
class WorkflowDetail:
    workflow: Workflow
    steps: list[StoredStep]
    events: list[EventKey]
    fleet: FleetDetail | None = None


async def list_workflows(dsn: str, status: WorkflowStatus | None = None, limit: int = 50) -> list[Workflow]:
    """The newest workflows, optionally of one status (a fleet's selection left out of its input)."""
    store = await Store.connect(dsn, max_size=2)
    try:
        rows = await store.pool.fetch(fq("workflows_shown"), status.value if status else None, limit)
        return [Workflow.from_record(r) for r in rows]
    finally:
        await store.close()


async def workflow_status(dsn: str, ref: str) -> WorkflowDetail | None:
    """One workflow, by workflow id or command id, with its step history and events."""
    store = await Store.connect(dsn, max_size=2)
    try:
        workflow = await find_workflow(store, ref)
        if workflow is None:
            return None
        events = [
            EventKey(r["event_id"], r["routing_key"])
            for r in await store.pool.fetch(fq("event_keys"), workflow.id)
        ]
        fleet = await _fleet_detail(store, workflow.id) if workflow.kind == "fleet_backup" else None
        return WorkflowDetail(workflow, await store.steps_of(workflow.id), events, fleet)
    finally:
        await store.close()


async def fleet_resources(
    dsn: str, ref: str, offset: int, limit: int
) -> tuple[Workflow, ResourcePage] | None:
    """One page of a fleet's resources, each with its result; None when there is no such workflow."""
    store = await Store.connect(dsn, max_size=1)
    try:
        workflow = await find_workflow(store, ref)
        if workflow is None:
            return None
        return workflow, await fleet_children.resource_page(store, workflow.id, offset, limit)
    finally:
        await store.close()


async def _fleet_detail(store: Store, parent_id: uuid.UUID) -> FleetDetail:
    children, total = await fleet_children.children_page(store, parent_id, CHILDREN_SHOWN)
    problems = await fleet_children.first_problems(store, parent_id, PROBLEMS_SHOWN)
    return FleetDetail(children, total, problems)


async def find_workflow(store: Store, ref: str) -> Workflow | None:
    """A workflow by workflow id or command id, without a fleet's selection (which ``status`` never shows
    and which holds up to 100,000 resource ids)."""
    try:
        by_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        by_id = None
    row = await store.pool.fetchrow(fq("workflow_shown"), by_id, ref)
    return None if row is None else Workflow.from_record(row)


async def workflow_now(dsn: str, command_id: str) -> Workflow | None:
    """The workflow of a command as it is now (None until intake has committed it)."""
    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.workflow_by_command(command_id)
    finally:
        await store.close()
