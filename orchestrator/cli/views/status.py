"""How workflows look in the terminal: a table of many, or one in detail (the ids its next command needs,
its resources, its fleet, step history and events).

Text from outside is shown as written, never as markup (``orchestrator.cli.views.text``). Ids a user copies
into the next command (backup, checkpoint, vault, resource) are never cut: they fold, or stand on lines
of their own when a table of them would not fit the terminal.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.cli.views.drill import drill_panel
from orchestrator.cli.views.event_list import event_list, reply_rows
from orchestrator.cli.views.resource_list import ResourceList, fleet_resource
from orchestrator.cli.views.text import age, copyable, one_line, plain, status_text, when
from orchestrator.messages import FleetReport, ProjectCounts
from orchestrator.store import Workflow, WorkflowDetail
from orchestrator.store.fleet_children import ResourcePage, ResourceRow
from orchestrator.store.progress import percent_done
from orchestrator.store.resource_results import checkpoint_of, resource_outcomes, vault_of
from orchestrator.store.status import FleetDetail
from orchestrator.workflows.fleet_report import GIB, duration, report_of

KIND_SHORT = {"fleet_backup": "fleet", "restore_drill": "drill"}  # in the list, which must fit 120 columns


# ------------------------------------------------------------------ the list


def workflows_table(workflows: list[Workflow], now: datetime | None = None) -> Table:
    """One line per workflow, fitting 120 columns: the command id whole, the rest shortened or cut (the
    project, a 32-digit id, is in the detail and the JSON)."""
    now = now or datetime.now(UTC)
    table = Table(
        title=f"{len(workflows)} workflows (newest first)",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),  # and the box's blank separator: two spaces between columns
    )
    table.add_column("workflow", no_wrap=True)
    table.add_column("command", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("region")
    table.add_column("updated", no_wrap=True)
    table.add_column("progress / error")
    for wf in workflows:
        table.add_row(
            str(wf.id)[:8],
            plain(wf.command_id),
            plain(KIND_SHORT.get(wf.kind, wf.kind)),
            status_text(wf.status.value, short=True),
            one_line(wf.region),
            age(wf.updated_at, now),
            one_line(_list_progress(wf)),
        )
    return table


def _list_progress(wf: Workflow) -> str:
    """A fleet: resources final of all, and its problems; else the error code, or the percentage done."""
    report = fleet_report(wf)
    if report is not None:
        c = report.counts
        problems = [f"{n} {label}" for n, label in ((c.failed, "failed"), (c.skipped, "skipped")) if n]
        return " · ".join([f"{c.final}/{c.total}", *problems])
    if wf.error_code:
        return wf.error_code
    percent = percent_done(wf)
    return f"{percent}%" if percent is not None and not wf.status.is_final else ""


# ------------------------------------------------------------------ one workflow


def workflow_detail(detail: WorkflowDetail, payloads: bool = False) -> RenderableType:
    """The workflow; its resources (a fleet: counts, first children and problems); steps; events (each
    with its body when ``payloads``)."""
    wf = detail.workflow
    parts: list[RenderableType] = [_summary(detail)]
    report = fleet_report(wf)
    if report is not None and detail.fleet is not None:
        parts.append(fleet_panel(report, detail.fleet, wf.command_id))
    elif wf.kind == "backup":
        parts.append(ResourceList(resource_outcomes(wf), title="resources"))
    elif wf.kind == "restore_drill":
        parts.append(drill_panel(wf))
    parts.append(_steps(detail))
    parts.append(event_list(wf, detail.events, payloads))
    return Group(*parts)


def _summary(detail: WorkflowDetail) -> Table:
    wf = detail.workflow
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    status = status_text(wf.status.value)
    percent = percent_done(wf)
    if percent is not None:
        status.append(f" · {percent}%")
    rows: list[tuple[str, Text]] = [
        ("workflow", copyable(str(wf.id))),
        ("command", copyable(wf.command_id)),
        ("kind", plain(wf.kind)),
        ("status", status),
        ("project", copyable(wf.project_id)),
        ("region", plain(wf.region)),
        ("created", plain(when(wf.created_at))),
        ("updated", plain(when(wf.updated_at), f"({age(wf.updated_at, datetime.now(UTC))})")),
        ("finished", plain(when(wf.finished_at))),
        ("runs", plain(str(wf.attempts))),
    ]
    if wf.parent_id is not None:
        rows.append(("fleet", copyable(str(wf.parent_id))))
    if wf.error_code or wf.error_message:
        rows.append(("error", plain(wf.error_code, wf.error_message)))
    rows += _ids_for_next(wf)
    rows += reply_rows(wf, detail.events)
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _ids_for_next(wf: Workflow) -> list[tuple[str, Text]]:
    """The ids the next command needs: a backup's vault and checkpoint; what a restore restored where; a
    replication's source and destination."""
    if wf.kind == "backup":
        vault_id, vault_name = vault_of(wf)
        return [
            ("vault", plain(vault_name or "(given by id)")),
            ("vault id", copyable(vault_id or "not resolved yet")),
            ("checkpoint", copyable(checkpoint_of(wf) or "not created yet")),
        ]
    if wf.kind == "restore":
        return _restored(wf)
    if wf.kind == "replicate":
        given = wf.input
        return [
            ("source backup", copyable(given.get("backup_id"))),
            ("destination region", plain(given.get("destination_region"))),
            ("destination project", copyable(given.get("destination_project_id"))),
            ("destination vault", copyable(given.get("destination_vault_id"))),
            ("destination backup", copyable((wf.result or {}).get("destination_backup_id") or "not yet")),
        ]
    return []


def _restored(wf: Workflow) -> list[tuple[str, Text]]:
    given = wf.input
    target = "server" if given.get("server_id") else "volume"
    rows = [
        ("backup restored", copyable(given.get("backup_id"))),
        (f"target {target}", copyable(given.get(f"{target}_id"))),
    ]
    for mapping in given.get("mappings") or []:
        rows.append(("disk", copyable(f"{mapping.get('backup_id')} → {mapping.get('volume_id')}")))
    return rows


def _steps(detail: WorkflowDetail) -> RenderableType:
    if not detail.steps:
        return Text("no CBR calls yet")
    shown, total = len(detail.steps), detail.steps_count
    steps = Table(
        title="step history" if shown == total else f"step history: the last {shown} of {total} steps"
    )
    for column in ("started", "worker", "operation", "outcome", "error"):
        steps.add_column(column)
    for stored in detail.steps:
        step = stored.step
        steps.add_row(
            when(step.started_at),
            plain(stored.worker),
            plain(step.operation),
            plain(step.outcome.value),
            plain(step.error_code, step.error_message),
        )
    return steps


# ------------------------------------------------------------------ fleets


def fleet_report(wf: Workflow) -> FleetReport | None:
    return report_of(wf.kind, wf.state, wf.result, datetime.now(UTC))


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
    parts: list[RenderableType] = [counts]
    if report.projects:
        parts.append(_projects(report.projects))
    return Group(*parts, _children(fleet, ref), _problems(fleet.problems, problems))


def _projects(projects: list[ProjectCounts]) -> Table:
    """A fleet over several projects: how far each one is (each runs under its own limits)."""
    table = Table(title=f"{len(projects)} projects")
    for column in (
        "project",
        "region",
        "total",
        "waiting",
        "running",
        "succeeded",
        "failed",
        "skipped",
        "done",
    ):
        table.add_column(column, no_wrap=column == "project")
    for p in projects:
        table.add_row(
            copyable(p.project_id),
            plain(p.region),
            str(p.total),
            str(p.waiting),
            str(p.running),
            Text(str(p.succeeded), style="green"),
            Text(str(p.failed), style="red"),
            Text(str(p.skipped), style="yellow"),
            f"{100 * p.final // p.total}%" if p.total else "",
        )
    return table


def _first_of(shown: int, total: int, what: str) -> str:
    return f"first {shown} of {total} {what}" if shown < total else f"{total} {what}"


def _children(fleet: FleetDetail, ref: str) -> RenderableType:
    shown, total = len(fleet.children), fleet.children_total
    if not total:
        return Text("no child backups yet")
    table = Table(title=_first_of(shown, total, "child backups (one checkpoint each)"))
    for column in ("child", "status", "resources", "vault", "error"):
        table.add_column(column, no_wrap=column == "vault")
    for child in fleet.children:
        table.add_row(
            plain(child.command_id.rsplit("/", 1)[-1]),
            status_text(child.status),
            str(child.resources),
            plain(child.vault),
            plain(child.error_code),
        )
    if shown == total:
        return table
    more = f"{total - shown} more; every resource: cbr-orchestrator status {shlex.quote(ref)} --resources"
    return Group(table, Text(more))


def _problems(problems: list[ResourceRow], total: int) -> RenderableType:
    title = _first_of(len(problems), total, "failed or skipped resources")
    if not problems:
        return Text(title)
    table = Table(title=title)
    for column in ("resource", "status", "code", "message"):
        table.add_column(column, no_wrap=column == "resource")
    for r in problems:
        table.add_row(
            plain(r.resource_id), status_text(r.status), plain(r.error_code), plain(r.error_message)
        )
    return table


def resources_table(page: ResourcePage) -> RenderableType:
    """One page of a fleet's resources (``status <fleet> --resources``), and how to ask for the next."""
    if not page.rows:
        return Text(f"no resources after {page.offset} (the fleet has {page.total})")
    first, last = page.offset + 1, page.offset + len(page.rows)
    rows = [fleet_resource(r) for r in page.rows]
    listed = ResourceList(rows, title="resources", positions=[r.position for r in page.rows])
    footer = f"resources {first}–{last} of {page.total}"
    if last < page.total:
        footer += f"; next page: --offset {last}"
    return Group(listed, Text(footer))
