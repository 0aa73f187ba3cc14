"""One refresh of a project as the worker's loop and ``coverage --refresh`` make it: the ledger from CBR's
listings (``engine.coverage``), then the posture's changes and their events (``engine.posture``), then,
with ``coverage.act``, the backup commands of stale → act (``engine.posture_act``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine.coverage import RefreshReport, refresh_project
from orchestrator.engine.posture import PostureReport, record_posture
from orchestrator.engine.posture_act import ActReport, act_on_posture
from orchestrator.ratelimit import RateLimiters
from orchestrator.store import Store


@dataclass(frozen=True)
class PostureRun:
    refresh: RefreshReport
    posture: PostureReport
    act: ActReport | None  # None: coverage.act is off


async def refresh_and_record(
    client: CbrClient,
    store: Store,
    settings: Settings,
    region: str,
    *,
    full: bool = False,
    at: datetime | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PostureRun:
    """``at``: the moment ages are measured at (None: PostgreSQL's now); ``sleep``: stale → act's pace."""
    project = client.project_id
    refreshed = await refresh_project(client, store.coverage, settings.coverage, full=full)
    posture = await record_posture(store, settings.coverage, project, region, at)
    if not settings.coverage.act:
        return PostureRun(refreshed, posture, None)
    acted = await act_on_posture(store, settings, project, region, sleep=sleep)
    return PostureRun(refreshed, posture, acted)


async def refresh_all(
    settings: Settings, store: Store, projects: Sequence[str] = (), *, full: bool = False
) -> list[PostureRun]:
    """Every project with credentials (only ``projects`` when given), one after the other, each through
    its shared rate limiter."""
    limiters = await RateLimiters.open(settings.database_url, settings.rate_limit)
    clients = CbrClients(settings, limiters=limiters)
    try:
        return [
            await refresh_and_record(clients.get(*c.key), store, settings, c.region, full=full)
            for c in settings.credentials
            if not projects or c.project_id in projects
        ]
    finally:
        await clients.close()
        await limiters.close()
