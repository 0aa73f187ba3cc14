"""How workflows look in the terminal: a table of many, or one with its step history."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table

from orchestrator.store import Workflow, WorkflowDetail

STATUS_STYLE = {
    "succeeded": "green",
    "partially_succeeded": "yellow",
    "failed": "red",
    "expired": "red",
    "running": "cyan",
    "pending": "white",
}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def workflows_table(workflows: list[Workflow]) -> Table:
    table = Table(title=f"{len(workflows)} workflows (newest first)")
    for column in (
        "workflow",
        "command",
        "kind",
        "status",
        "project / region",
        "attempts",
        "updated",
        "error",
    ):
        table.add_column(column)
    for wf in workflows:
        table.add_row(
            str(wf.id)[:8],
            wf.command_id,
            wf.kind,
            _status(wf.status.value),
            f"{wf.project_id[:8]} / {wf.region}",
            str(wf.attempts),
            _when(wf.updated_at),
            wf.error_code or "",
        )
    return table


def workflow_detail(detail: WorkflowDetail) -> RenderableType:
    wf = detail.workflow
    summary = Table.grid(padding=(0, 2))
    for label, value in (
        ("workflow", str(wf.id)),
        ("command", wf.command_id),
        ("kind", wf.kind),
        ("status", _status(wf.status.value)),
        ("project / region", f"{wf.project_id} / {wf.region}"),
        ("created", _when(wf.created_at)),
        ("finished", _when(wf.finished_at)),
        ("error", f"{wf.error_code or ''} {wf.error_message or ''}".strip()),
    ):
        summary.add_row(f"[bold]{label}[/]", value)
    steps = Table(title="step history")
    for column in ("started", "worker", "operation", "outcome", "error"):
        steps.add_column(column)
    for stored in detail.steps:
        step = stored.step
        steps.add_row(
            _when(step.started_at),
            stored.worker,
            step.operation,
            step.outcome.value,
            f"{step.error_code or ''} {step.error_message or ''}".strip(),
        )
    events = Table(title="events")
    for column in ("event id", "routing key"):
        events.add_column(column)
    for event in detail.events:
        events.add_row(event.event_id, event.routing_key)
    return Group(summary, steps, events)
