"""Read-only views for ``cbr-orchestrator status``: a list of workflows, or one with its history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from orchestrator.store import fleet_children
from orchestrator.store.models import OutboxEvent, StoredStep, Workflow, WorkflowStatus
from orchestrator.store.store import Store


@dataclass(frozen=True)
class WorkflowDetail:
    workflow: Workflow
    steps: list[StoredStep]
    events: list[OutboxEvent]
    children: list[Workflow] = field(default_factory=list)  # a fleet's child backups


async def list_workflows(dsn: str, status: WorkflowStatus | None = None, limit: int = 50) -> list[Workflow]:
    """The newest workflows, optionally of one status."""
    store = await Store.connect(dsn, max_size=2)
    try:
        return await store.list_workflows(status, limit)
    finally:
        await store.close()


async def workflow_status(dsn: str, ref: str) -> WorkflowDetail | None:
    """One workflow, by workflow id or command id, with its step history and events."""
    store = await Store.connect(dsn, max_size=2)
    try:
        workflow = await _find(store, ref)
        if workflow is None:
            return None
        children = (
            await fleet_children.children_of(store, workflow.id) if workflow.kind == "fleet_backup" else []
        )
        return WorkflowDetail(
            workflow, await store.steps_of(workflow.id), await store.events_of(workflow.id), children
        )
    finally:
        await store.close()


async def _find(store: Store, ref: str) -> Workflow | None:
    try:
        by_id = await store.get_workflow(uuid.UUID(ref))
    except ValueError:
        by_id = None
    return by_id or await store.workflow_by_command(ref)


async def workflow_now(dsn: str, command_id: str) -> Workflow | None:
    """The workflow of a command as it is now (None until intake has committed it)."""
    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.workflow_by_command(command_id)
    finally:
        await store.close()
