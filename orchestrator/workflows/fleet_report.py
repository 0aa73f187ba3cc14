"""A fleet's progress as people read it: counts, bytes, rate and time left; and its final outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orchestrator.messages import FleetCounts, FleetReport, Outcome, ProjectCounts

GIB = 1024**3


def fleet_report(
    counts: FleetCounts,
    started_at: datetime | None,
    now: datetime | None,
    projects: Sequence[ProjectCounts] = (),
) -> FleetReport:
    """Rate: resources final per minute since the fleet started; time left at that rate; ``projects``:
    the counts of each project, for a fleet over several."""
    rate = eta = None
    if started_at is not None and now is not None and now > started_at and counts.final:
        minutes = (now - started_at).total_seconds() / 60
        rate = round(counts.final / minutes, 2)
        eta = round((counts.total - counts.final) / rate * 60, 1)
    problems = counts.failed + counts.skipped
    return FleetReport(
        counts=counts, rate_per_minute=rate, eta_seconds=eta, problems_total=problems, projects=list(projects)
    )


def fleet_outcome(counts: FleetCounts, expired: bool = False) -> Outcome:
    """All backed up: succeeded; some: partially; none: expired when the window closed, else failed."""
    if counts.total and counts.succeeded == counts.total:
        return Outcome.SUCCEEDED
    if counts.succeeded:
        return Outcome.PARTIALLY_SUCCEEDED
    return Outcome.EXPIRED if expired else Outcome.FAILED


def report_of(
    kind: str, state: dict[str, Any], result: dict[str, Any] | None, now: datetime
) -> FleetReport | None:
    """A fleet workflow's report from its stored row: final from its result, else live from its state."""
    if kind != "fleet_backup":
        return None
    if result and result.get("fleet"):  # fields of another version (older or newer) are left out
        stored = {k: v for k, v in result["fleet"].items() if k in FleetReport.model_fields}
        return FleetReport.model_validate(stored)
    counts = FleetCounts.model_validate(state.get("counts") or {})
    projects = [ProjectCounts.model_validate(p) for p in state.get("projects") or []]
    started = state.get("started_at")
    return fleet_report(counts, datetime.fromisoformat(started) if started else None, now, projects)


def progress_line(report: FleetReport) -> str:
    """``412/600 · 3 failed · 1 skipped · 120.5 GiB · 85.0/min · ETA 2m``"""
    c = report.counts
    parts = [f"{c.final}/{c.total}"]
    parts += [f"{n} {label}" for n, label in ((c.failed, "failed"), (c.skipped, "skipped")) if n]
    parts.append(f"{c.bytes_protected / GIB:.1f} GiB")
    if report.rate_per_minute is not None:
        parts.append(f"{report.rate_per_minute:.1f}/min")
    if report.eta_seconds is not None and c.final < c.total:
        parts.append(f"ETA {duration(report.eta_seconds)}")
    return " · ".join(parts)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
