"""Performing one workflow request against CBR and turning the answer into the next observation.

:class:`CbrActions` is what the engine calls for every :class:`~orchestrator.workflows.base.Call`: it picks
the project's client, asks the poller for status polls (answered for many workflows at once), merges vault
binds (:class:`~orchestrator.engine.vault_binder.VaultBinder`) and records each call as a step of the history.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, assert_never

from pydantic import ValidationError

from orchestrator.cbr.bodies import (
    BackupReplicate,
    BackupRestore,
    BillingCreate,
    CheckpointParameters,
    ResourceRef,
    RestoreMapping,
    VaultCreate,
)
from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.errors import CbrApiError
from orchestrator.cbr.limits import LIST_MAX_PAGE
from orchestrator.cbr.models import Vault
from orchestrator.cbr.query import BackupFilter, VaultFilter
from orchestrator.crash_points import crash_point
from orchestrator.engine.drill_reads import backups_listed, server_disks
from orchestrator.engine.fleet_selection import protectables_page
from orchestrator.engine.vault_binder import VaultBinder
from orchestrator.engine.vault_directory import VaultDirectory
from orchestrator.polling.poller import Poller, Wake
from orchestrator.store import Step, StepOutcome, Workflow
from orchestrator.workflows.backup import FINAL_CHECKPOINT_STATUSES
from orchestrator.workflows.base import (
    Accepted,
    AddResources,
    CheckpointCreated,
    CheckpointLookup,
    CheckpointStatus,
    CreateCheckpoint,
    CreateVault,
    Failed,
    FindCheckpoint,
    FindRestoreTask,
    FindVault,
    ListBackups,
    ListProtectables,
    Observation,
    PollCheckpoint,
    PollReplication,
    ReplicateBackup,
    ReplicationStarted,
    Request,
    ResourcesAdded,
    RestoreBackup,
    ShowBackup,
    ShowCheckpoint,
    ShowServerDisks,
    ShowVault,
    Skipped,
    VaultFound,
    VaultMissing,
)

# A checkpoint's backups are looked for from this long before its create call was announced: AK/SK
# signatures are accepted only within 15 minutes of the gateway's clock, so ours is no further off.
LOOKUP_CLOCK_SLACK = timedelta(minutes=15)
VaultLookup = VaultFound | VaultMissing


def _now() -> datetime:
    return datetime.now(UTC)


class Actions(Protocol):
    """What the engine needs to perform a request (the real one is :class:`CbrActions`)."""

    async def perform(self, wf: Workflow, request: Request) -> tuple[Observation, Step]: ...

    def poll_delay(self, project: str, region: str, workflow_id: uuid.UUID) -> float | None:
        """Seconds until the workflow's checkpoint should be polled again (None: the configured poll)."""

    async def watch(self, wake: Wake) -> None:
        """Until cancelled: wake (with ``wake``) the workflows whose awaited tasks ended."""

    def watched(self) -> list[uuid.UUID]:
        """The workflows ``watch`` would wake: handed to other workers when this one stops."""


class CbrActions:
    """Performs one :class:`Request` for one workflow and turns the answer into an observation."""

    def __init__(
        self,
        clients: CbrClients,
        poller: Poller,
        vaults: VaultDirectory | None = None,
        binder: VaultBinder | None = None,
    ) -> None:
        self._clients = clients
        self._poller = poller
        self._vaults = vaults or VaultDirectory()
        self._binder = binder or VaultBinder()
        self._vault_lookups: dict[tuple[str, str, str], asyncio.Future[VaultFound | VaultMissing]] = {}

    async def perform(self, wf: Workflow, request: Request) -> tuple[Observation, Step]:
        started = _now()
        if isinstance(request, PollCheckpoint):  # polling now: what it sees needs no wake
            self._poller.unwatch(wf.project_id, wf.region, request.checkpoint_id)
        try:
            observation = await self.dispatch(wf.project_id, wf.region, request)
            self._watch_after(wf, request, observation, started)
        except CbrApiError as exc:
            failed = Failed(exc.kind.value, exc.code, exc.message, exc.retry_after, exc.outcome_unknown)
            outcome = StepOutcome.UNKNOWN if exc.outcome_unknown else StepOutcome(exc.kind.value)
            return failed, _step(request, outcome, started, error=(exc.code, exc.message))
        except ValidationError as exc:  # the request body cannot be built: no retry will change that
            message = f"the request cannot be built: {exc.error_count()} invalid field(s)"
            failed = Failed("terminal", "orchestrator.invalid_request", message, None, False)
            return failed, _step(request, StepOutcome.TERMINAL, started, error=(failed.code, message))
        return observation, _step(request, StepOutcome.OK, started, response=_summary(observation))

    async def dispatch(self, project: str, region: str, req: Request) -> Observation:
        client_of = self._clients.get  # per case: a listing may be of another project
        match req:
            case ListProtectables():  # a fleet may list other projects than its own
                return await protectables_page(client_of(req.project_id, req.region), req)
            case ShowVault():
                vault = await client_of(project, region).show_vault(req.vault_id)
                return self._learned(project, region, vault)
            case FindVault():
                return await self._find_vault(project, region, req.name)
            case CreateVault():
                vault = await client_of(project, region).create_vault(_vault_create(req))
                return self._learned(project, region, vault)
            case AddResources():
                return await self._add_resources(project, region, req)
            case CreateCheckpoint():
                return await self._create_checkpoint(project, region, req)
            case FindCheckpoint():
                return await self._find_checkpoint(project, region, req)
            case PollCheckpoint():
                return await self._poller.checkpoint(
                    project, region, req.vault_id, req.checkpoint_id, req.since, req.backups
                )
            case ShowCheckpoint():
                return await self._poller.show_checkpoint(project, region, req.checkpoint_id)
            case ShowBackup():
                return await self._poller.backup_details(project, region, req.backup_id)
            case PollReplication():
                return await self._poller.replication(project, region, req)
            case RestoreBackup():
                await client_of(project, region).restore_backup(req.backup_id, _restore_body(req))
                crash_point("after_restore_call")
                return Accepted()
            case FindRestoreTask():
                return await self._poller.restore_task(
                    project, region, req.backup_id, req.target_id, req.since
                )
            case ReplicateBackup():
                return await _replicate(client_of(project, region), req)
            case ListBackups():
                return await backups_listed(client_of(project, region), req)
            case ShowServerDisks():
                return await server_disks(client_of(project, region), req)
            case _:
                assert_never(req)

    async def _find_vault(self, project: str, region: str, name: str) -> VaultFound | VaultMissing:
        known = self._vaults.find(project, region, name)
        if known is not None:
            return VaultFound(*known)
        key = (project, region, name)  # workflows starting together share one listing
        lookup = self._vault_lookups.get(key)
        if lookup is None:
            lookup = asyncio.ensure_future(self._list_vault(project, region, name))
            self._vault_lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(key, done))
        return await asyncio.shield(lookup)

    def _lookup_done(
        self, key: tuple[str, str, str], done: asyncio.Future[VaultFound | VaultMissing]
    ) -> None:
        self._vault_lookups.pop(key, None)
        if not done.cancelled():
            done.exception()  # its askers may all be gone (their runs stopped): the error is theirs, seen

    async def _list_vault(self, project: str, region: str, name: str) -> VaultFound | VaultMissing:
        client = self._clients.get(project, region)
        page = await client.list_vaults(VaultFilter(name=name), limit=LIST_MAX_PAGE)
        found = [v for v in page.vaults if v.name == name]
        return self._learned(project, region, found[0]) if found else VaultMissing()

    def poll_delay(self, project: str, region: str, workflow_id: uuid.UUID) -> float | None:
        return self._poller.poll_delay(project, region, workflow_id)

    async def watch(self, wake: Wake) -> None:
        await self._poller.watch_tasks(wake)

    def watched(self) -> list[uuid.UUID]:
        return self._poller.watched()

    def _watch_after(self, wf: Workflow, request: Request, seen: Observation, started: datetime) -> None:
        """A checkpoint just created, or polled and still running with tasks listed: its workflow is woken
        when its tasks have all ended."""
        match request, seen:
            case CreateCheckpoint(), CheckpointCreated():
                self._poller.watch(wf.project_id, wf.region, seen.checkpoint_id, wf.id, started)
            case PollCheckpoint(), CheckpointStatus() if (
                seen.status not in FINAL_CHECKPOINT_STATUSES and seen.backups
            ):
                self._poller.watch(wf.project_id, wf.region, request.checkpoint_id, wf.id, request.since)

    def _learned(self, project: str, region: str, vault: Vault) -> VaultFound:
        resources = tuple(vault.resource_ids())
        if vault.name:
            self._vaults.learn(project, region, vault.name, vault.id, resources)
        billing = None if vault.auto_expand else vault.billing  # an auto-expanding vault has no limit
        used = billing.used / 1024 if billing and billing.used is not None else None  # MB → GB
        return VaultFound(vault.id, resources, billing.size if billing else None, used)

    async def _create_checkpoint(self, project: str, region: str, req: CreateCheckpoint) -> Observation:
        params = CheckpointParameters(
            resources=list(req.resource_ids),
            name=req.name,
            description=req.description,
            incremental=req.incremental,
        )
        checkpoint = await self._clients.get(project, region).create_checkpoint(req.vault_id, params)
        crash_point("after_cbr_create")
        skipped = tuple(
            Skipped(s.id or "", s.code or "", s.reason or "") for s in checkpoint.skipped_resources
        )
        return CheckpointCreated(checkpoint.id, skipped)

    async def _add_resources(self, project: str, region: str, req: AddResources) -> ResourcesAdded:
        refs = [ResourceRef(id=rid, type=rtype) for rid, rtype in req.resources]
        client = self._clients.get(project, region)
        refused = await self._binder.add(client, (project, region, req.vault_id), refs)
        no = {rid for rid, _ in refused}
        self._vaults.bound(project, region, req.vault_id, (rid for rid, _ in req.resources if rid not in no))
        return ResourcesAdded(tuple(Skipped(rid, exc.code, exc.message) for rid, exc in refused))

    async def _find_checkpoint(self, project: str, region: str, req: FindCheckpoint) -> Observation:
        """The checkpoint whose backups carry the marker, among the vault's backups (of every resource)
        made since the create call was announced; with the resources it skipped."""
        start = (req.since - LOOKUP_CLOCK_SLACK).strftime("%Y-%m-%dT%H:%M:%SZ")
        client = self._clients.get(project, region)
        filters = BackupFilter(vault_id=req.vault_id, start_time=start)
        async for backup in client.iter_backups(filters, page_size=LIST_MAX_PAGE):
            marked = req.marker in (backup.description or "") + (backup.name or "")
            if marked and backup.checkpoint_id and backup.parent_id is None:
                checkpoint = await client.show_checkpoint(backup.checkpoint_id)
                skipped = tuple(
                    Skipped(s.id or "", s.code or "", s.reason or "") for s in checkpoint.skipped_resources
                )
                return CheckpointLookup(backup.checkpoint_id, skipped)
        return CheckpointLookup(None)


async def _replicate(client: CbrClient, req: ReplicateBackup) -> ReplicationStarted:
    body = BackupReplicate(
        destination_project_id=req.destination_project_id,
        destination_region=req.destination_region,
        destination_vault_id=req.destination_vault_id,
    )
    answer = await client.replicate_backup(req.backup_id, body)
    return ReplicationStarted(answer.replication_record_id)


def _vault_create(req: CreateVault) -> VaultCreate:
    billing = BillingCreate(
        object_type=req.object_type, consistent_level=req.consistent_level, size=req.size_gb
    )
    resources = [ResourceRef(id=rid, type=rtype) for rid, rtype in req.resources]
    return VaultCreate(name=req.name, billing=billing, resources=resources, description=req.description)


def _restore_body(req: RestoreBackup) -> BackupRestore:
    mappings = [RestoreMapping(backup_id=b, volume_id=v) for b, v in req.mappings] or None
    return BackupRestore(
        server_id=req.server_id, volume_id=req.volume_id, mappings=mappings, power_on=req.power_on
    )


STEP_LIST_MAX = 50  # items of a list a step records; the rest is counted (a vault lists 256 resources)


def _jsonable(value: Any) -> Any:
    """A request or an observation as its step records it: lists cut to ``STEP_LIST_MAX`` items and the
    number left out, so that a step row stays small and cheap to make (the state holds the whole)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        kept = [_jsonable(v) for v in value[:STEP_LIST_MAX]]
        return kept if len(value) <= STEP_LIST_MAX else [*kept, f"… {len(value) - STEP_LIST_MAX} more"]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _summary(observation: Observation) -> dict[str, Any]:
    return {"observation": type(observation).__name__, **_jsonable(observation)}


def _step(
    request: Request,
    outcome: StepOutcome,
    started: datetime,
    *,
    response: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
) -> Step:
    return Step(
        operation=type(request).__name__,
        outcome=outcome,
        started_at=started,
        finished_at=_now(),
        request=_jsonable(request),
        response=response,
        error_code=error[0] if error else None,
        error_message=error[1][:1000] if error else None,
    )
