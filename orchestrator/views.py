"""How workflows look in the terminal: a table of many, or one with its step history."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table

from orchestrator.fleet.report import GIB, duration, progress_line, report_of
from orchestrator.messages import FleetReport
from orchestrator.store import Workflow, WorkflowDetail

FAILURES_SHOWN = 50  # failed or skipped resources listed in a fleet's detail

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
        "progress",
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
            _progress(wf),
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
    report = fleet_report(wf)
    if report is None:
        return Group(summary, steps, events)
    return Group(summary, fleet_panel(report, detail), steps, events)


def fleet_report(wf: Workflow) -> FleetReport | None:
    return report_of(wf.kind, wf.state, wf.result, datetime.now(UTC))


def _progress(wf: Workflow) -> str:
    report = fleet_report(wf)
    return progress_line(report) if report is not None else ""


def fleet_panel(report: FleetReport, detail: WorkflowDetail) -> RenderableType:
    """Counts by state, bytes, rate and time left; the children; the failed and skipped resources."""
    c = report.counts
    counts = Table(title="fleet")
    for column in (
        "total",
        "waiting",
        "running",
        "succeeded",
        "failed",
        "skipped",
        "protected",
        "rate",
        "ETA",
    ):
        counts.add_column(column)
    counts.add_row(
        str(c.total),
        str(c.waiting),
        str(c.running),
        f"[green]{c.succeeded}[/]",
        f"[red]{c.failed}[/]",
        f"[yellow]{c.skipped}[/]",
        f"{c.bytes_protected / GIB:.1f} GiB",
        f"{report.rate_per_minute:.1f}/min" if report.rate_per_minute is not None else "",
        duration(report.eta_seconds) if report.eta_seconds is not None and c.final < c.total else "",
    )
    children = Table(title=f"{len(detail.children)} child backups (one checkpoint each)")
    for column in ("child", "status", "resources", "vault", "error"):
        children.add_column(column)
    for child in detail.children:
        vault = child.input.get("vault", {})
        children.add_row(
            child.command_id.rsplit("/", 1)[-1],
            _status(child.status.value),
            str(len(child.input.get("resources", []))),
            vault.get("id") or vault.get("name") or "",
            child.error_code or "",
        )
    return Group(counts, children, _failures(detail.workflow))


def _failures(wf: Workflow) -> RenderableType:
    problems = (wf.result or {}).get("resources", [])
    table = Table(title=f"{len(problems)} failed or skipped resources (first {FAILURES_SHOWN})")
    for column in ("resource", "status", "code", "message"):
        table.add_column(column)
    for r in problems[:FAILURES_SHOWN]:
        table.add_row(r["resource_id"], r["status"], r.get("error_code") or "", r.get("error_message") or "")
    return table
