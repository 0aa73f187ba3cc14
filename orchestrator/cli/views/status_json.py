"""``status --json``: what ``status`` shows, as JSON for scripts (no markup, no wrapping, full ids).

The shapes: a list of workflows; one workflow as ``{"workflow", "resources", "steps", "steps_total",
"events", "fleet"}`` (``steps``: the last 100 of ``steps_total``; ``fleet``: counts, first children and
problems, for a fleet only); a page of a fleet's resources as
``{"workflow", "offset", "total", "resources"}``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from orchestrator.store import StoredStep, Workflow, WorkflowDetail
from orchestrator.store.fleet_children import ResourcePage
from orchestrator.store.progress import percent_done
from orchestrator.store.resource_results import checkpoint_of, resource_outcomes, vault_of
from orchestrator.store.status import EventRow, FleetDetail
from orchestrator.workflows.fleet_report import report_of


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> str:
    """Datetimes in ISO 8601, ids (UUIDs) as text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def workflow_json(wf: Workflow) -> dict[str, Any]:
    """A workflow as listed: what it is, where it stands, how far it is (a fleet: its report)."""
    report = report_of(wf.kind, wf.state, wf.result, datetime.now(UTC))
    return {
        "workflow_id": wf.id,
        "command_id": wf.command_id,
        "kind": wf.kind,
        "status": wf.status.value,
        "phase": wf.state.get("phase"),
        "percent_done": percent_done(wf),
        "fleet": report.model_dump(mode="json") if report is not None else None,
        "project_id": wf.project_id,
        "region": wf.region,
        "parent_id": wf.parent_id,
        "runs": wf.attempts,
        "error_code": wf.error_code,
        "error_message": wf.error_message,
        "created_at": wf.created_at,
        "updated_at": wf.updated_at,
        "finished_at": wf.finished_at,
        "deadline": wf.deadline,
        "reply_to": wf.reply_to,
        "correlation_id": wf.correlation_id,
    }


def workflows_json(workflows: list[Workflow]) -> str:
    return dumps([workflow_json(wf) for wf in workflows])


def detail_json(detail: WorkflowDetail) -> str:
    wf = detail.workflow
    shown = workflow_json(wf)
    if wf.kind == "backup":
        vault_id, vault_name = vault_of(wf)
        shown |= {"vault_id": vault_id, "vault_name": vault_name, "checkpoint_id": checkpoint_of(wf)}
    shown |= {"input": wf.input, "result": wf.result}
    return dumps(
        {
            "workflow": shown,
            "resources": [dataclasses.asdict(r) for r in resource_outcomes(wf)],
            "steps": [_step(s) for s in detail.steps],
            "steps_total": detail.steps_count,
            "events": [_event(e) for e in detail.events],
            "fleet": _fleet(detail.fleet) if detail.fleet is not None else None,
        }
    )


def resources_json(wf: Workflow, page: ResourcePage) -> str:
    return dumps(
        {
            "workflow": workflow_json(wf),
            "offset": page.offset,
            "total": page.total,
            "resources": [dataclasses.asdict(r) for r in page.rows],
        }
    )


def _step(stored: StoredStep) -> dict[str, Any]:
    return {"id": stored.id, "worker": stored.worker, **dataclasses.asdict(stored.step)}


def _event(event: EventRow) -> dict[str, Any]:
    return {**dataclasses.asdict(event), "reply": event.reply}


def _fleet(fleet: FleetDetail) -> dict[str, Any]:
    return {
        "children_total": fleet.children_total,
        "children": [dataclasses.asdict(c) for c in fleet.children],
        "problems": [dataclasses.asdict(p) for p in fleet.problems],
    }
