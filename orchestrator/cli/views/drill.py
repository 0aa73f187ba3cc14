"""How a restore drill's report looks in the terminal: the counts and RTO figures, then one line per sample
(the server whose backup was restored, the backup, the scratch server it went to, the outcome, the RTO)."""

from __future__ import annotations

from pydantic import ValidationError
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.cli.views.text import copyable, plain, status_text
from orchestrator.messages import DrillReport
from orchestrator.store import Workflow


def drill_report(wf: Workflow) -> DrillReport | None:
    """The report a finished drill stored with its result (None while it runs, or if unreadable)."""
    stored = (wf.result or {}).get("drill")
    if not stored:
        return None
    try:
        return DrillReport.model_validate(stored)
    except ValidationError:
        return None


def drill_panel(wf: Workflow) -> RenderableType:
    report = drill_report(wf)
    if report is None:
        return Text("drill report: not yet (the drill has not ended)")
    figures = (
        f"{report.succeeded} restored, {report.failed} failed, {report.skipped} skipped"
        f" · RTO median {_seconds(report.rto_median_seconds)}, max {_seconds(report.rto_max_seconds)}"
    )
    table = Table(title="drill samples", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("server", "backup", "scratch server", "status", "RTO", "error"):
        table.add_column(column, overflow="fold")
    for s in report.samples:
        error = plain(s.error_code, s.error_message)
        rto = _seconds(s.rto_seconds)
        table.add_row(
            copyable(s.resource_id), copyable(s.backup_id), copyable(s.scratch_server_id or "-"),
            status_text(s.status), plain(rto), error,
        )  # fmt: skip
    parts: list[RenderableType] = [Text(figures), table]
    parts += [plain("not used:", problem) for problem in report.problems]
    return Group(*parts)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"
