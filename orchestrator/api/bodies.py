"""What the API answers about commands and workflows: the information ``status --json`` prints, as pydantic
models (the OpenAPI document describes them from these)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from orchestrator.messages import FleetReport
from orchestrator.store import StoredStep, Workflow, WorkflowDetail
from orchestrator.store.fleet_children import ChildRow
from orchestrator.store.progress import percent_done
from orchestrator.store.resource_results import checkpoint_of, vault_of
from orchestrator.store.status import EventRow, FleetDetail
from orchestrator.workflows.fleet_report import report_of


class _Body(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Accepted(_Body):
    """A command accepted: the workflow it names (a new one, or the one its command id named before)."""

    workflow_id: uuid.UUID
    command_id: str
    status: str
    duplicate: bool


class WorkflowSummary(_Body):
    """A workflow as listed: what it is, where it stands, how far it is (a fleet: its report)."""

    workflow_id: uuid.UUID
    command_id: str
    kind: str
    status: str
    phase: str | None
    percent_done: int | None
    fleet: FleetReport | None
    project_id: str
    region: str
    parent_id: uuid.UUID | None
    runs: int
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    deadline: datetime | None
    cancel_requested_at: datetime | None
    reply_to: str | None
    correlation_id: str | None


class WorkflowBody(WorkflowSummary):
    """One workflow in full: its command (a fleet's without its selection) and result; a backup's vault and
    checkpoint."""

    vault_id: str | None = None
    vault_name: str | None = None
    checkpoint_id: str | None = None
    input: dict[str, Any]
    result: dict[str, Any] | None


class ResourceBody(_Body):
    """A resource and where it stands: a backup's (its checkpoint and vault), a restore's target, a
    replication's source backup, or a fleet's (``position`` in the fleet's order, ``vault`` its vault)."""

    position: int | None = None
    resource_id: str
    resource_type: str | None
    status: str
    backup_id: str | None = None
    checkpoint_id: str | None = None
    vault_id: str | None = None
    vault_name: str | None = None
    vault: str | None = None
    size_gb: int | None = None
    error_code: str | None = None
    error_message: str | None = None


class StepBody(_Body):
    id: int
    worker: str
    operation: str
    outcome: str
    started_at: datetime
    finished_at: datetime
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    error_code: str | None
    error_message: str | None


class EventBody(_Body):
    """An event, when it was published, and how its reply to ``reply_to`` fared."""

    event_id: str
    routing_key: str
    created_at: datetime
    published_at: datetime | None
    reply_to: str | None
    reply: str | None
    replied_at: datetime | None
    reply_attempts: int
    reply_error: str | None
    reply_parked_at: datetime | None
    body: dict[str, Any] | None


class ChildBody(_Body):
    command_id: str
    status: str
    resources: int
    vault: str | None
    error_code: str | None
    error_message: str | None


class FleetBody(_Body):
    """A fleet's first children and first failed or skipped resources (its resources: ``/resources``)."""

    children_total: int
    children: list[ChildBody]
    problems: list[ResourceBody]


class WorkflowDetailBody(_Body):
    workflow: WorkflowBody
    resources: list[ResourceBody]  # a fleet's: paged, at /v1/workflows/{id}/resources
    steps: list[StepBody]  # the last 100 of steps_total
    steps_total: int
    events: list[EventBody]
    fleet: FleetBody | None


class WorkflowPage(_Body):
    workflows: list[WorkflowSummary]
    next_cursor: str | None  # None: this is the last page


class ResourcePageBody(_Body):
    workflow_id: uuid.UUID
    offset: int  # resources before the first one of this page
    total: int
    resources: list[ResourceBody]
    next_cursor: str | None


class CancelBody(_Body):
    """What a cancel request did: ``requested`` now or ``already_requested`` (the workflow stops at its
    next step and ends ``cancelled``)."""

    workflow_id: uuid.UUID
    command_id: str
    kind: str
    verdict: str
    status: str  # as it was when the request was handled
    requested_at: datetime | None


def answer(body: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(text=body.model_dump_json(), status=status, headers=headers)


def summary_of(wf: Workflow) -> WorkflowSummary:
    return WorkflowSummary.model_validate(_summary_fields(wf))


def detail_of(detail: WorkflowDetail, resources: list[ResourceBody]) -> WorkflowDetailBody:
    wf = detail.workflow
    fields = _summary_fields(wf) | {"input": wf.input, "result": wf.result}
    if wf.kind == "backup":
        vault_id, vault_name = vault_of(wf)
        fields |= {"vault_id": vault_id, "vault_name": vault_name, "checkpoint_id": checkpoint_of(wf)}
    return WorkflowDetailBody(
        workflow=WorkflowBody.model_validate(fields),
        resources=resources,
        steps=[_step(s) for s in detail.steps],
        steps_total=detail.steps_count,
        events=[_event(e) for e in detail.events],
        fleet=_fleet(detail.fleet) if detail.fleet is not None else None,
    )


def _summary_fields(wf: Workflow) -> dict[str, Any]:
    report = report_of(wf.kind, wf.state, wf.result, datetime.now(UTC))
    phase = wf.state.get("phase")
    return {
        **{name: getattr(wf, name) for name in _SAME_NAMED},
        "workflow_id": wf.id,
        "status": wf.status.value,
        "phase": phase if isinstance(phase, str) else None,
        "percent_done": percent_done(wf),
        "fleet": report,
        "runs": wf.attempts,
    }


_SAME_NAMED = (
    "command_id",
    "kind",
    "project_id",
    "region",
    "parent_id",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
    "finished_at",
    "deadline",
    "cancel_requested_at",
    "reply_to",
    "correlation_id",
)


def _step(stored: StoredStep) -> StepBody:
    step = {**dataclasses.asdict(stored.step), "outcome": stored.step.outcome.value}
    return StepBody.model_validate({"id": stored.id, "worker": stored.worker, **step})


def _event(event: EventRow) -> EventBody:
    return EventBody.model_validate({**dataclasses.asdict(event), "reply": event.reply})


def _fleet(fleet: FleetDetail) -> FleetBody:
    return FleetBody(
        children_total=fleet.children_total,
        children=[_child(c) for c in fleet.children],
        problems=[ResourceBody.model_validate(p) for p in fleet.problems],
    )


def _child(child: ChildRow) -> ChildBody:
    return ChildBody.model_validate(child)
