"""The state of each protectable in the coverage ledger, against the RPO declared for it, and the summary
per project and state (worst offenders first).

- ``ok``: its last good backup is within the RPO;
- ``stale``: its last good backup is older than the RPO;
- ``never``: bound to a vault, and no good backup of it is known;
- ``unprotected``: bound to no vault (whatever backups it once had).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from orchestrator.config import CoverageSettings
from orchestrator.store.coverage import LedgerRow

OK = "ok"
STALE = "stale"
NEVER = "never"
UNPROTECTED = "unprotected"
# worst first: a resource in a vault without a backup is a protection someone set up that is silently not
# working; one in no vault may be meant so (a short-lived server)
STATES = (NEVER, UNPROTECTED, STALE, OK)


@dataclass(frozen=True)
class CoverageEntry:
    project_id: str
    resource_id: str
    resource_type: str
    name: str | None
    vault_id: str | None
    vault_name: str | None
    backup_id: str | None
    last_backup_at: datetime | None
    age_seconds: float | None
    rpo_seconds: float
    state: str

    @property
    def overdue_seconds(self) -> float:
        """How far past its RPO (negative: within it); a resource without a backup sorts first."""
        return float("inf") if self.age_seconds is None else self.age_seconds - self.rpo_seconds


@dataclass(frozen=True)
class ProjectSummary:
    project_id: str
    counts: dict[str, int]  # every state, zero included
    oldest_age_seconds: float | None  # of the resources with a good backup
    worst: tuple[CoverageEntry, ...]  # the worst offenders, worst first


def classify(rows: Sequence[LedgerRow], settings: CoverageSettings) -> list[CoverageEntry]:
    return [_entry(row, settings) for row in rows]


def _entry(row: LedgerRow, settings: CoverageSettings) -> CoverageEntry:
    rpo = settings.rpo_for(
        row.project_id, row.vault_id, row.vault_name,
        name=row.name, resource_type=row.resource_type, vault_tags=row.vault_tags,
    )  # fmt: skip
    return CoverageEntry(
        row.project_id,
        row.resource_id,
        row.resource_type,
        row.name,
        row.vault_id,
        row.vault_name,
        row.backup_id,
        row.last_backup_at,
        row.age_seconds,
        rpo,
        _state(row, rpo),
    )


def _state(row: LedgerRow, rpo: float) -> str:
    if row.vault_id is None:
        return UNPROTECTED
    if row.age_seconds is None:
        return NEVER
    return OK if row.age_seconds <= rpo else STALE


def worst_first(entries: Sequence[CoverageEntry]) -> list[CoverageEntry]:
    rank = {state: i for i, state in enumerate(STATES)}
    return sorted(entries, key=lambda e: (rank[e.state], -e.overdue_seconds, e.project_id, e.resource_id))


def summarise(entries: Sequence[CoverageEntry], worst: int = 5) -> list[ProjectSummary]:
    by_project: dict[str, list[CoverageEntry]] = {}
    for entry in entries:
        by_project.setdefault(entry.project_id, []).append(entry)
    return [_summary(project, found, worst) for project, found in sorted(by_project.items())]


def _summary(project_id: str, entries: list[CoverageEntry], worst: int) -> ProjectSummary:
    counts = dict.fromkeys(STATES, 0)
    for entry in entries:
        counts[entry.state] += 1
    ages = [e.age_seconds for e in entries if e.age_seconds is not None]
    offenders = [e for e in worst_first(entries) if e.state != OK][:worst]
    return ProjectSummary(project_id, counts, max(ages) if ages else None, tuple(offenders))
