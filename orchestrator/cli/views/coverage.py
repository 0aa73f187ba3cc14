"""How the coverage ledger looks (``coverage``): a table of the states per project, then the worst offenders
of each project; and the same as JSON for scripts (``coverage --json``, and ``GET /v1/coverage``'s shape)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.cli.views.text import copyable, plain, when
from orchestrator.engine.coverage import RefreshReport
from orchestrator.engine.coverage_states import STATES, CoverageEntry, ProjectSummary
from orchestrator.engine.posture_refresh import PostureRun

STATE_STYLE = {"ok": "green", "stale": "yellow", "never": "red", "unprotected": "red"}


def duration(seconds: float | None) -> str:
    """``40s``, ``12m``, ``3h``, ``5d``; empty when unknown."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def coverage_view(summaries: Sequence[ProjectSummary]) -> RenderableType:
    if not summaries:
        return Text("The coverage ledger is empty: run `cbr-orchestrator coverage --refresh`.")
    parts: list[RenderableType] = [_summary_table(summaries)]
    parts += [_offenders_table(s) for s in summaries if s.worst]
    return Group(*parts)


def _summary_table(summaries: Sequence[ProjectSummary]) -> Table:
    table = Table(title="Coverage per project (worst state first)")
    table.add_column("project", overflow="fold")
    for state in STATES:
        table.add_column(state, justify="right", style=STATE_STYLE[state])
    table.add_column("oldest last backup", justify="right")
    for s in summaries:
        counts = [str(s.counts[state]) for state in STATES]
        table.add_row(copyable(s.project_id), *counts, duration(s.oldest_age_seconds))
    return table


def _offenders_table(summary: ProjectSummary) -> Table:
    table = Table(title=f"Worst offenders of {summary.project_id}")
    for column in ("state", "resource", "name", "vault", "last good backup", "age", "RPO"):
        table.add_column(column, overflow="fold")
    for e in summary.worst:
        table.add_row(
            Text(e.state, style=STATE_STYLE[e.state]),
            copyable(e.resource_id),
            plain(e.name),
            plain(e.vault_name or e.vault_id),
            when(e.last_backup_at),
            duration(e.age_seconds),
            duration(e.rpo_seconds),
        )
    return table


def refresh_line(reports: Sequence[RefreshReport]) -> Text:
    calls = sum(r.calls for r in reports)
    backup_calls = sum(r.backup_calls for r in reports)
    listed = sum(r.backups_listed for r in reports)
    full = sum(r.full for r in reports)
    return Text(
        f"refreshed {len(reports)} project(s) ({full} full pass): {calls} CBR calls, "
        f"{backup_calls} of them list_backups, {listed} backups listed"
    )


def posture_counts(runs: Sequence[PostureRun]) -> dict[str, dict[str, int]]:
    """The posture events the refresh told, by name, and stale → act's commands, by result."""
    events: dict[str, int] = {}
    acted: dict[str, int] = {}
    for run in runs:
        for name, count in run.posture.events.items():
            events[name] = events.get(name, 0) + count
        for result, count in (run.act.results if run.act is not None else {}).items():
            acted[result] = acted.get(result, 0) + count
    return {"posture_events": events, "act_commands": acted}


def posture_line(runs: Sequence[PostureRun]) -> Text:
    counts = posture_counts(runs)
    events = ", ".join(f"{n} posture.{name}" for name, n in sorted(counts["posture_events"].items()))
    changed = sum(r.posture.changes for r in runs)
    line = f"posture: {changed} resources changed state or were first seen; events: {events or 'none'}"
    if any(r.act is not None for r in runs):
        acted = ", ".join(f"{n} {result}" for result, n in sorted(counts["act_commands"].items()))
        line += f"; stale → act backup commands: {acted or 'none'}"
    return Text(line)


def coverage_json(summaries: Sequence[ProjectSummary]) -> dict[str, Any]:
    return {"projects": [summary_json(s) for s in summaries]}


def summary_json(summary: ProjectSummary) -> dict[str, Any]:
    return {
        "project_id": summary.project_id,
        "counts": summary.counts,
        "oldest_age_seconds": summary.oldest_age_seconds,
        "worst": [entry_json(e) for e in summary.worst],
    }


def entry_json(entry: CoverageEntry) -> dict[str, Any]:
    return {
        "resource_id": entry.resource_id,
        "resource_type": entry.resource_type,
        "name": entry.name,
        "state": entry.state,
        "vault_id": entry.vault_id,
        "vault_name": entry.vault_name,
        "backup_id": entry.backup_id,
        "last_backup_at": entry.last_backup_at.isoformat() if entry.last_backup_at else None,
        "age_seconds": entry.age_seconds,
        "rpo_seconds": entry.rpo_seconds,
    }
