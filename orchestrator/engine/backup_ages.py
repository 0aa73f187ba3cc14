"""The age of the last good backup of the protected resources, as gauges: a summary per project (bounded
by the projects configured), and one gauge per resource only when asked (``per_resource``).

Once the coverage ledger has rows (a ``coverage --refresh`` ran), the gauges read it instead of our
workflows' results alone: its states (``ok``, ``stale``, ``never``, ``unprotected``) against the RPOs of
the coverage settings, and the backups CBR lists whoever made them.

A project or a resource that no longer has a good backup in the store leaves the gauges at the next
refresh (they are set afresh each time, with no await between clearing and setting: a scrape, served on
the same loop, never sees them half set).
"""

from __future__ import annotations

from orchestrator.config import CoverageSettings, MetricsSettings
from orchestrator.engine.coverage_states import classify, summarise
from orchestrator.observability import metrics
from orchestrator.store import Store

OK = "ok"
STALE = "stale"


class BackupAgeGauges:
    def __init__(
        self, store: Store, settings: MetricsSettings, coverage: CoverageSettings | None = None
    ) -> None:
        self._store = store
        self._rpo = settings.rpo_seconds
        self._per_resource = settings.per_resource
        self._coverage = coverage or CoverageSettings()

    async def sample(self) -> None:
        if await self._store.coverage.has_rows():
            await self._sample_ledger()
        else:
            await self._sample_workflows()

    async def _sample_ledger(self) -> None:
        entries = classify(await self._store.coverage.entries(), self._coverage)
        metrics.BACKUP_AGE.clear()
        metrics.PROTECTED_RESOURCES.clear()
        for project in summarise(entries, worst=0):
            if project.oldest_age_seconds is not None:
                metrics.BACKUP_AGE.labels(project.project_id).set(project.oldest_age_seconds)
            for state, count in project.counts.items():
                metrics.PROTECTED_RESOURCES.labels(project.project_id, state).set(count)
        metrics.RESOURCE_BACKUP_AGE.clear()
        for entry in entries if self._per_resource else []:
            if entry.age_seconds is not None:
                metrics.RESOURCE_BACKUP_AGE.labels(entry.project_id, entry.resource_id).set(entry.age_seconds)

    async def _sample_workflows(self) -> None:
        projects = await self._store.gauges.backup_ages(self._rpo)
        resources = await self._store.gauges.resource_backup_ages() if self._per_resource else []
        metrics.BACKUP_AGE.clear()
        metrics.PROTECTED_RESOURCES.clear()
        for project in projects:
            metrics.BACKUP_AGE.labels(project.project_id).set(project.oldest_age_seconds)
            metrics.PROTECTED_RESOURCES.labels(project.project_id, OK).set(project.ok)
            metrics.PROTECTED_RESOURCES.labels(project.project_id, STALE).set(project.stale)
        metrics.RESOURCE_BACKUP_AGE.clear()
        for resource in resources:
            metrics.RESOURCE_BACKUP_AGE.labels(resource.project_id, resource.resource_id).set(
                resource.age_seconds
            )
