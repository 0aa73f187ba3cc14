"""The worker's periodic refresh of the coverage ledger and posture (``coverage.refresh_seconds``; off when
unset).

Every worker runs the loop; one at a time refreshes (a PostgreSQL advisory lock, tried, never waited
for), and only the projects not refreshed within ``refresh_seconds`` (by a worker or a ``coverage
--refresh``), so that several workers refresh each project once per period. The listings go through the
worker's CBR clients, so through the shared rate limiter, as the workflows' calls do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from orchestrator.cbr.clients import CbrClients
from orchestrator.config import Settings
from orchestrator.engine.posture_refresh import PostureRun, refresh_and_record
from orchestrator.store import Store

log = logging.getLogger(__name__)

CHECK_MAX_SECONDS = 30.0  # how late after its period a refresh may start, at worst


class PostureLoop:
    def __init__(self, store: Store, clients: CbrClients, settings: Settings) -> None:
        self._store = store
        self._clients = clients
        self._settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        every = self._settings.coverage.refresh_seconds
        if every is None:
            await stop.wait()
            return
        while not stop.is_set():
            try:
                await self.refresh_due(every)
            except Exception as exc:  # CBR or the database away for a while: the next turn tries again
                log.warning("coverage refresh failed (%s); trying again later", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(every, CHECK_MAX_SECONDS))

    async def refresh_due(self, every: float) -> list[PostureRun]:
        """Refresh the projects due, if it is this worker's turn; the runs made."""
        runs: list[PostureRun] = []
        async with self._store.coverage.refresh_turn() as mine:
            if not mine:
                return runs
            for cred in self._settings.credentials:
                if await self._store.coverage.refreshed_within(cred.project_id, every):
                    continue
                run = await self._refresh(cred.project_id, cred.region)
                if run is not None:
                    runs.append(run)
        return runs

    async def _refresh(self, project_id: str, region: str) -> PostureRun | None:
        """One project; its trouble (CBR away, credentials refused) leaves the others their turn."""
        client = self._clients.get(project_id, region)
        try:
            run = await refresh_and_record(client, self._store, self._settings, region)
        except Exception as exc:
            log.warning("coverage refresh of project %s failed (%s)", project_id, type(exc).__name__)
            return None
        log.info(
            "coverage of project %s refreshed: %d CBR calls, %d posture changes",
            project_id, run.refresh.calls, run.posture.changes,
        )  # fmt: skip
        return run


async def keep_fresh(store: Store, clients: CbrClients, settings: Settings, stop: asyncio.Event) -> None:
    """Keep the coverage ledger and posture fresh, until ``stop`` (the worker runs it)."""
    await PostureLoop(store, clients, settings).run(stop)
