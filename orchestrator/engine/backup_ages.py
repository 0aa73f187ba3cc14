"""The age of the last good backup of the protected resources, as gauges: a summary per project (bounded
by the projects configured), and one gauge per resource only when asked (``per_resource``).

A project or a resource that no longer has a good backup in the store leaves the gauges at the next
refresh (they are set afresh each time, with no await between clearing and setting: a scrape, served on
the same loop, never sees them half set).
"""

from __future__ import annotations

from orchestrator.config import MetricsSettings
from orchestrator.observability import metrics
from orchestrator.store import Store

OK = "ok"
STALE = "stale"


class BackupAgeGauges:
    def __init__(self, store: Store, settings: MetricsSettings) -> None:
        self._store = store
        self._rpo = settings.rpo_seconds
        self._per_resource = settings.per_resource

    async def sample(self) -> None:
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
