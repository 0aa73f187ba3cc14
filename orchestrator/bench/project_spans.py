"""When each project's backup tasks ran, from the emulator's ledger: do the projects run side by side?

A project's span starts when its first backup task was created and ends when its last one ended (the
emulator's clock); ``start`` is that first creation counted from the first task of any project. Projects
that are served independently all start within a few seconds and each take about its own minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.bench.event_lag import parse_utc


@dataclass(frozen=True)
class ProjectSpan:
    project: str  # region/project_id
    start_seconds: float  # its first task created, after the first task of any project
    seconds: float  # its first task created → its last task ended

    @property
    def end_seconds(self) -> float:
        return self.start_seconds + self.seconds


def project_spans(ledger: dict[str, Any]) -> list[ProjectSpan]:
    """One span per project of the ledger that ran a backup task, in the ledger's order."""
    found: list[tuple[str, float, float]] = []
    for project in ledger["projects"]:
        backups = project.get("backups") or []
        created = [parse_utc(b["created_at"]).timestamp() for b in backups]
        ended = [parse_utc(b["ended_at"]).timestamp() for b in backups if b.get("ended_at")]
        if created and ended:
            found.append((f"{project['region']}/{project['project_id']}", min(created), max(ended)))
    if not found:
        return []
    zero = min(first for _, first, _ in found)
    return [ProjectSpan(p, round(first - zero, 2), round(last - first, 2)) for p, first, last in found]


def describe_spans(spans: list[ProjectSpan], minimum: float) -> str:
    """The latest start and the longest span, against a project's minimum."""
    if not spans or not minimum:
        return "n/a"
    late = max(s.start_seconds for s in spans)
    longest = max(s.seconds for s in spans)
    return (
        f"first tasks within {late:.1f} s of each other; longest project "
        f"{longest:.1f} s = {longest / minimum:.2f} × its minimum"
    )
