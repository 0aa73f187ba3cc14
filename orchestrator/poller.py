"""Status polling, in one place: requests made in the same short window are answered together.

Checkpoint polls of one vault share one ``list_backups`` listing (every backup of the vault created since
the oldest of them); restore-task polls of one project share one ``list_op_logs`` listing. A single
request costs one call; a thousand concurrent polls of one vault cost one listing, paged.
Also here: :class:`CbrClients`, one CBR client per project and region, built from the settings.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import aiohttp

from orchestrator.cbr.auth import AkSkAuth, Authenticator, PasswordIdentity, TokenAuth
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.endpoints import Endpoints
from orchestrator.cbr.models import Backup, OperationLog
from orchestrator.cbr.query import BackupFilter, OperationLogFilter
from orchestrator.cbr.signing import Credentials
from orchestrator.config import ProjectCredentials, Settings
from orchestrator.workflows.base import (
    BackupDetails,
    BackupSeen,
    CheckpointStatus,
    ReplicaSeen,
    TaskMissing,
    TaskSeen,
)

K = TypeVar("K", bound=Hashable)
Q = TypeVar("Q", bound=Hashable)
R = TypeVar("R")

FINAL_BACKUP = {"available", "error"}
CLOCK_SLACK = timedelta(minutes=5)  # our clock and the cloud's may disagree a little


class CbrClients:
    """One :class:`CbrClient` per (project, region), sharing one HTTP session."""

    def __init__(self, settings: Settings, endpoints: Endpoints | None = None) -> None:
        self._settings = settings
        overrides = settings.cbr_endpoints
        self._endpoints = endpoints or Endpoints(cbr_overrides=overrides, iam_overrides=overrides)
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[tuple[str, str], CbrClient] = {}

    def get(self, project_id: str, region: str) -> CbrClient:
        key = (project_id, region)
        if key not in self._clients:
            creds = self._settings.credentials_for(project_id, region)
            if self._session is None:
                self._session = aiohttp.ClientSession()
            self._clients[key] = CbrClient(
                region=region,
                project_id=project_id,
                auth=self._auth(creds),
                endpoints=self._endpoints,
                session=self._session,
                timeout=self._settings.cbr_timeout_seconds,
            )
        return self._clients[key]

    def _auth(self, creds: ProjectCredentials) -> Authenticator:
        if creds.access_key and creds.secret_key:
            token = creds.security_token.get_secret_value() if creds.security_token else None
            return AkSkAuth(Credentials(creds.access_key, creds.secret_key.get_secret_value(), token))
        identity = PasswordIdentity(
            user_name=creds.user_name or "",
            password=creds.password.get_secret_value() if creds.password else "",
            domain_name=creds.domain_name or "",
            project_id=creds.project_id,
        )
        return TokenAuth(
            identity, self._endpoints.iam_url(creds.region), timeout=self._settings.cbr_timeout_seconds
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None


class Coalescer(Generic[K, Q, R]):
    """Collect queries per key for ``window`` seconds, then answer them all with one batch call."""

    def __init__(self, batch: Callable[[K, list[Q]], Awaitable[dict[Q, R]]], window: float) -> None:
        self._batch = batch
        self._window = window
        self._waiting: dict[K, dict[Q, list[asyncio.Future[R]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, key: K, query: Q) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        group = self._waiting.get(key)
        if group is None:
            group = self._waiting[key] = defaultdict(list)
            asyncio.get_running_loop().call_later(self._window, self._flush, key)
        group[query].append(future)
        return await future

    def _flush(self, key: K) -> None:
        group = self._waiting.pop(key, {})
        task = asyncio.create_task(self._answer(key, group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, key: K, group: dict[Q, list[asyncio.Future[R]]]) -> None:
        try:
            answers = await self._batch(key, list(group))
        except Exception as exc:  # every waiter sees the failure (e.g. a CbrApiError to classify)
            for futures in group.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc)
            return
        for query, futures in group.items():
            for f in futures:
                if not f.done():
                    f.set_result(answers[query])


CheckpointKey = tuple[str, str, str]  # project, region, vault
CheckpointQuery = tuple[str, datetime]  # checkpoint id, created not before
RestoreKey = tuple[str, str]
RestoreQuery = tuple[str, str, datetime]  # backup id, target id, since


class Poller:
    def __init__(self, clients: CbrClients, window: float = 0.05) -> None:
        self._clients = clients
        self._checkpoints: Coalescer[CheckpointKey, CheckpointQuery, CheckpointStatus] = Coalescer(
            self._poll_checkpoints, window
        )
        self._restores: Coalescer[RestoreKey, RestoreQuery, TaskSeen | TaskMissing] = Coalescer(
            self._poll_restores, window
        )
        self.list_calls = 0

    async def checkpoint(
        self, project: str, region: str, vault_id: str, checkpoint_id: str, since: datetime
    ) -> CheckpointStatus:
        return await self._checkpoints.ask((project, region, vault_id), (checkpoint_id, since))

    async def restore_task(
        self, project: str, region: str, backup_id: str, target_id: str, since: datetime
    ) -> TaskSeen | TaskMissing:
        return await self._restores.ask((project, region), (backup_id, target_id, since))

    async def backup_details(self, project: str, region: str, backup_id: str) -> BackupDetails:
        backup = await self._clients.get(project, region).show_backup(backup_id)
        return _details(backup)

    # ------------------------------------------------------------------ batches

    async def _poll_checkpoints(
        self, key: CheckpointKey, queries: list[CheckpointQuery]
    ) -> dict[CheckpointQuery, CheckpointStatus]:
        project, region, vault_id = key
        client = self._clients.get(project, region)
        self.list_calls += 1
        if len(queries) == 1:
            filters = BackupFilter(checkpoint_id=queries[0][0])
        else:
            oldest = min(since for _, since in queries) - CLOCK_SLACK
            filters = BackupFilter(vault_id=vault_id, start_time=oldest.strftime("%Y-%m-%dT%H:%M:%SZ"))
        by_checkpoint: dict[str, list[Backup]] = defaultdict(list)
        async for backup in client.iter_backups(filters, page_size=1000, by_marker_paging=False):
            if backup.checkpoint_id and backup.parent_id is None:
                by_checkpoint[backup.checkpoint_id].append(backup)
        return {q: _checkpoint_status(by_checkpoint.get(q[0], [])) for q in queries}

    async def _poll_restores(
        self, key: RestoreKey, queries: list[RestoreQuery]
    ) -> dict[RestoreQuery, TaskSeen | TaskMissing]:
        project, region = key
        oldest = min(since for _, _, since in queries) - CLOCK_SLACK
        filters = OperationLogFilter(
            operation_type="restore", start_time=oldest.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        self.list_calls += 1
        logs = [log async for log in self._clients.get(project, region).iter_operation_logs(filters)]
        return {q: _restore_task(logs, q) for q in queries}


def _checkpoint_status(backups: list[Backup]) -> CheckpointStatus:
    seen = tuple(
        BackupSeen(
            b.resource_id or "", b.id, b.status, int(b.resource_size) if b.resource_size is not None else None
        )
        for b in backups
    )
    final = bool(seen) and all(b.status in FINAL_BACKUP for b in seen)
    return CheckpointStatus("available" if final else "protecting", seen)


def _restore_task(logs: list[OperationLog], query: RestoreQuery) -> TaskSeen | TaskMissing:
    backup_id, target_id, _ = query
    for log in sorted(logs, key=lambda item: item.created_at or "", reverse=True):
        info = log.extra_info.restore if log.extra_info else None
        resource = log.extra_info.resource if log.extra_info else None
        target = (info.target_resource_id if info else None) or (resource.id if resource else None)
        if info is not None and info.backup_id == backup_id and target == target_id:
            error = log.error_info
            return TaskSeen(
                log.status,
                log.progress,
                error.code if error and error.code else None,
                error.message if error and error.message else None,
            )
    return TaskMissing()


def _details(backup: Backup) -> BackupDetails:
    ext = backup.extend_info
    replicas = tuple(
        ReplicaSeen(
            record_id=r.id,
            destination_region=r.destination_region or "",
            status=r.status or "",
            destination_backup_id=r.destination_backup_id,
            fail_code=r.extra_info.fail_code if r.extra_info else None,
            fail_reason=r.extra_info.fail_reason if r.extra_info else None,
            progress=r.extra_info.progress if r.extra_info else None,
        )
        for r in backup.replication_records
    )
    return BackupDetails(
        backup.id,
        backup.status,
        backup.image_type,
        backup.resource_type,
        ext.contain_system_disk if ext else None,
        replicas,
    )
