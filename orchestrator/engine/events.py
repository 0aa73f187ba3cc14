"""The events a workflow emits, as outbox rows: progress reports and the final result, each bounded in size.

An event never exceeds :data:`MAX_EVENT_BYTES` (RabbitMQ's default frame and message limits are far away,
and consumers can hold one in memory): when a result lists more resources than fit, the event keeps the
first ones that fit, says how many there were (``resources_total``) and that the list is cut
(``resources_truncated``); the whole result stays in PostgreSQL (``cbr-orchestrator status``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from orchestrator.messages import Outcome, Timings, WorkflowEventData, make_event
from orchestrator.store import OutboxEvent, Workflow
from orchestrator.workflows.base import Done, Progress

MAX_EVENT_BYTES = 256 * 1024


def outbox_event(wf: Workflow, done: Done | Progress, finished_at: datetime | None = None) -> OutboxEvent:
    """The CloudEvent for a final result or a progress report, with its stable id."""
    extra: dict[str, Any]
    if isinstance(done, Progress):
        outcome, name = Outcome.PROGRESS, f"progress-{done.percent}"
        if done.fleet is not None:  # a fleet reports more than once a percent: named by resources ended too
            name += f"-{done.fleet.counts.final}"
        extra = {"progress": done.percent, "fleet": done.fleet}
    else:
        outcome, name = done.outcome, "final"
        extra = {
            "resources": list(done.resources),
            "checkpoint_id": done.checkpoint_id,
            "destination_backup_id": done.destination_backup_id,
            "error_code": done.error_code,
            "error_message": done.error_message,
            "fleet": done.fleet,
            "drill": done.drill,
        }
    duration = (finished_at - wf.created_at).total_seconds() if finished_at else None
    data = WorkflowEventData(
        workflow_id=wf.id,
        command_id=wf.command_id,
        kind=wf.kind,
        outcome=outcome,
        project_id=wf.project_id,
        region=wf.region,
        timings=Timings(created_at=wf.created_at, finished_at=finished_at, duration_seconds=duration),
        **extra,
    )
    event = make_event(data, name)
    return OutboxEvent(
        event.id, event.routing_key, _bounded(event.model_dump(mode="json")), wf.reply_to, wf.correlation_id
    )


def _bounded(body: dict[str, Any]) -> dict[str, Any]:
    """The event body, its resource list cut so that the whole stays within :data:`MAX_EVENT_BYTES`."""
    if _size(body) <= MAX_EVENT_BYTES:
        return body
    data = body["data"]
    resources = data["resources"]
    data["resources_total"] = len(resources)
    data["resources_truncated"] = True
    data["resources"] = []
    room = MAX_EVENT_BYTES - _size(body)
    kept = 0
    for resource in resources:
        room -= len(json.dumps(resource)) + 2
        if room < 0:
            break
        kept += 1
    data["resources"] = resources[:kept]
    return body


def _size(body: dict[str, Any]) -> int:
    return len(json.dumps(body).encode())
