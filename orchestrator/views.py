"""How workflows look in the terminal: a table of many, or one with its step history.

Every text that comes from outside (command ids, CBR codes and messages, resource and vault ids) goes into
a ``Text``, never into markup: ``[/x]`` in a CBR message must be shown, not parsed (nor crash ``status``).
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.fleet.report import GIB, duration, progress_line, report_of
from orchestrator.messages import FleetReport
from orchestrator.store import Workflow, WorkflowDetail
from orchestrator.store.fleet_children import ResourcePage, ResourceRow
from orchestrator.store.status import FleetDetail

STATUS_STYLE = {
    "succeeded": "green",
    "partially_succeeded": "yellow",
    "failed": "red",
    "expired": "red",
    "cancelled": "magenta",
    "skipped": "yellow",
    "running": "cyan",
    "pending": "white",
    "waiting": "white",
}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, "white"))


def _plain(*parts: str | None) -> Text:
    """Outside text, shown as written (markup-like brackets included)."""
    return Text(" ".join(p for p in parts if p))


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
            _plain(wf.command_id),
            _plain(wf.kind),
            _status(wf.status.value),
            _plain(f"{wf.project_id[:8]} / {wf.region}"),
            str(wf.attempts),
            _when(wf.updated_at),
            _plain(_progress(wf)),
            _plain(wf.error_code),
        )
    return table


def workflow_detail(detail: WorkflowDetail) -> RenderableType:
    wf = detail.workflow
    summary = Table.grid(padding=(0, 2))
    for label, value in (
        ("workflow", _plain(str(wf.id))),
        ("command", _plain(wf.command_id)),
        ("kind", _plain(wf.kind)),
        ("status", _status(wf.status.value)),
        ("project / region", _plain(f"{wf.project_id} / {wf.region}")),
        ("created", _plain(_when(wf.created_at))),
        ("finished", _plain(_when(wf.finished_at))),
        ("error", _plain(wf.error_code, wf.error_message)),
    ):
        summary.add_row(Text(label, style="bold"), value)
    steps = Table(title="step history")
    for column in ("started", "worker", "operation", "outcome", "error"):
        steps.add_column(column)
    for stored in detail.steps:
        step = stored.step
        steps.add_row(
            _when(step.started_at),
            _plain(stored.worker),
            _plain(step.operation),
            _plain(step.outcome.value),
            _plain(step.error_code, step.error_message),
        )
    events = Table(title="events")
    for column in ("event id", "routing key"):
        events.add_column(column)
    for event in detail.events:
        events.add_row(_plain(event.event_id), _plain(event.routing_key))
    report = fleet_report(wf)
    if report is None or detail.fleet is None:
        return Group(summary, steps, events)
    return Group(summary, fleet_panel(report, detail.fleet, wf.command_id), steps, events)


def fleet_report(wf: Workflow) -> FleetReport | None:
    return report_of(wf.kind, wf.state, wf.result, datetime.now(UTC))


def _progress(wf: Workflow) -> str:
    report = fleet_report(wf)
    return progress_line(report) if report is not None else ""


def fleet_panel(report: FleetReport, fleet: FleetDetail, ref: str) -> RenderableType:
    """Counts by state, bytes, rate and time left; the first children; the first failed or skipped."""
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
        Text(str(c.succeeded), style="green"),
        Text(str(c.failed), style="red"),
        Text(str(c.skipped), style="yellow"),
        f"{c.bytes_protected / GIB:.1f} GiB",
        f"{report.rate_per_minute:.1f}/min" if report.rate_per_minute is not None else "",
        duration(report.eta_seconds) if report.eta_seconds is not None and c.final < c.total else "",
    )
    problems = max(c.failed + c.skipped, len(fleet.problems))  # stored counts may lag the children's rows
    return Group(counts, _children(fleet, ref), _problems(fleet.problems, problems))


def _first_of(shown: int, total: int, what: str) -> str:
    return f"first {shown} of {total} {what}" if shown < total else f"{total} {what}"


def _children(fleet: FleetDetail, ref: str) -> RenderableType:
    shown, total = len(fleet.children), fleet.children_total
    table = Table(title=_first_of(shown, total, "child backups (one checkpoint each)"))
    for column in ("child", "status", "resources", "vault", "error"):
        table.add_column(column)
    for child in fleet.children:
        table.add_row(
            _plain(child.command_id.rsplit("/", 1)[-1]),
            _status(child.status),
            str(child.resources),
            _plain(child.vault),
            _plain(child.error_code),
        )
    if shown == total:
        return table
    more = f"{total - shown} more; every resource: cbr-orchestrator status {shlex.quote(ref)} --resources"
    return Group(table, Text(more))


def _problems(problems: list[ResourceRow], total: int) -> Table:
    table = Table(title=_first_of(len(problems), total, "failed or skipped resources"))
    for column in ("resource", "status", "code", "message"):
        table.add_column(column)
    for r in problems:
        table.add_row(_plain(r.resource_id), _status(r.status), _plain(r.error_code), _plain(r.error_message))
    return table


def resources_table(page: ResourcePage) -> RenderableType:
    """One page of a fleet's resources (``status <fleet> --resources``), and how to ask for the next."""
    first, last = page.offset + 1, page.offset + len(page.rows)
    table = Table(box=box.SIMPLE)
    for column in ("#", "resource", "status", "backup", "checkpoint", "vault", "error"):
        table.add_column(column)
    for r in page.rows:
        table.add_row(
            str(r.position),
            _plain(r.resource_id),
            _status(r.status),
            _plain(r.backup_id),
            _plain(r.checkpoint_id),
            _plain(r.vault),
            _plain(r.error_code, r.error_message),
        )
    if not page.rows:
        return Text(f"no resources after {page.offset} (the fleet has {page.total})")
    footer = f"resources {first}–{last} of {page.total}"
    if last < page.total:
        footer += f"; next page: --offset {last}"
    return Group(table, Text(footer))
