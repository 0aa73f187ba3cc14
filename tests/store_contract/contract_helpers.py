"""Workflows, claims, steps and events for the store contract, written through the protocol only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.messages import workflow_id_for
from orchestrator.store import (
    Claim,
    Finish,
    NewChild,
    NewWorkflow,
    OutboxEvent,
    Step,
    StepOutcome,
    Workflow,
    WorkflowStatus,
    WorkflowStore,
)

LEASE = 30.0


def now() -> datetime:
    return datetime.now(UTC)


def ago(seconds: float) -> datetime:
    return now() - timedelta(seconds=seconds)


def later(seconds: float = 3600) -> datetime:
    return now() + timedelta(seconds=seconds)


def new(command_id: str, **input_: Any) -> NewWorkflow:
    body = {"command_id": command_id, "resources": [{"id": "r"}], **input_}
    return NewWorkflow(workflow_id_for(command_id), command_id, "backup", "p", "r", body)


async def created(store: WorkflowStore, *command_ids: str) -> list[uuid.UUID]:
    verdicts = await store.create_workflows_if_absent([new(c) for c in command_ids])
    return [v.workflow_id for v in verdicts]


async def claimed(store: WorkflowStore, command_id: str, owner: str = "w") -> Workflow:
    """A new workflow, claimed (and the only one due)."""
    await created(store, command_id)
    [wf] = await store.claim_due(owner, LEASE, 10)
    return wf


def step(operation: str = "CreateCheckpoint") -> Step:
    return Step(operation=operation, outcome=StepOutcome.OK, started_at=now(), finished_at=now())


def event(name: str = "e") -> OutboxEvent:
    return OutboxEvent(f"{name}-{uuid.uuid4().hex[:8]}", "workflow.succeeded", {"name": name})


def succeeded(result: dict[str, Any] | None = None) -> Finish:
    return Finish(WorkflowStatus.SUCCEEDED, result or {})


def child(parent: str, n: int, resources: int = 2) -> NewChild:
    command_id = f"{parent}/child-{n}"
    body = {"resources": [{"id": f"{command_id}-r{i}", "type": "server"} for i in range(resources)]}
    return NewChild(workflow_id_for(command_id), command_id, "backup", "p", "r", body)


def stale(claim: Claim) -> Claim:
    """The claim of the run before: same owner, earlier epoch."""
    return Claim(claim.workflow_id, claim.owner, claim.epoch - 1)
