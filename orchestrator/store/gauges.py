"""What the metrics' gauges read from PostgreSQL: the outbox's lag and the age of each project's backups.

Each is one statement, run by the metrics refresher every few seconds (never on a scrape).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class ProjectBackups:
    """A project's resources that have a good backup: the oldest last one's age, and how many are within
    the RPO (``ok``) or beyond it (``stale``)."""

    project_id: str
    oldest_age_seconds: float
    ok: int
    stale: int


@dataclass(frozen=True)
class ResourceBackup:
    project_id: str
    resource_id: str
    age_seconds: float


class GaugeReads:
    """The gauges' reads, as the store hands them out (``store.gauges``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def outbox_lag(self) -> float:
        """Seconds since the oldest event still to publish was written; 0.0 when every one is out."""
        age = await self._pool.fetchval(q("outbox_lag"))
        return max(float(age), 0.0) if age is not None else 0.0

    async def backup_ages(self, rpo_seconds: float) -> list[ProjectBackups]:
        rows = await self._pool.fetch(q("backup_age_summary"), rpo_seconds)
        return [ProjectBackups(r["project_id"], max(r["oldest_age"], 0.0), r["ok"], r["stale"]) for r in rows]

    async def resource_backup_ages(self) -> list[ResourceBackup]:
        rows = await self._pool.fetch(q("resource_backup_ages"))
        return [ResourceBackup(r["project_id"], r["resource_id"], max(r["age"], 0.0)) for r in rows]
