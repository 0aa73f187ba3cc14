"""Synchronisation: importing backup copies into hybrid-cloud and replication vaults (operation `sync`).

A sync vault is a hybrid-cloud vault or a replication vault. ``import_backup`` catalogues copies that
lie in storage (described by bucket and path, trusted as the real service trusts its bucket) in the
sync vault already holding their resource; ``import_checkpoint`` synchronises one sync vault with what
other regions replicated into it. Both run as ``sync`` operation logs on the task runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field

from cbr_emulator import operation_logs
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.state import (
    NATIVE_TYPE,
    Backup,
    Checkpoint,
    OperationLog,
    ProjectState,
    Vault,
)
from cbr_emulator.validation import Body, Id, Name, ResourceType
from cbr_emulator.vaults import find_vault

SyncCounts = dict[str, int]


# --- request bodies ------------------------------------------------------------------------------


class SyncParam(Body):
    vault_id: Id
    auto_trigger: bool


class SyncReq(Body):
    sync: SyncParam


class BackupSync(Body):
    backup_id: Id
    backup_name: Name
    bucket_name: Annotated[str, Field(min_length=1, max_length=255)]
    image_path: Annotated[str, Field(min_length=1, max_length=1024)]
    resource_id: Id
    resource_name: Annotated[str, Field(min_length=1, max_length=255)]
    resource_type: ResourceType
    created_at: Annotated[int, Field(ge=0, le=32_503_680_000)]  # Unix seconds, before the year 3000


class BackupSyncReq(Body):
    sync: Annotated[list[BackupSync], Field(min_length=1, max_length=50)]


# --- the task ------------------------------------------------------------------------------------


@dataclass
class SyncJob:
    """One sync task: ``work`` runs when it ends and answers the counts of its operation log."""

    project: ProjectState
    log: OperationLog
    work: Callable[[datetime], SyncCounts]
    size_gb: float = 0.0
    may_fail: bool = False

    def begin(self, at: datetime) -> None:
        operation_logs.begin(self.project, self.log, at)

    def report(self, progress: int, at: datetime) -> None:
        operation_logs.advance(self.log, progress, at)

    def finish(self, at: datetime, failed: bool) -> None:
        self.log.details["sync"].update(self.work(at))
        operation_logs.succeed(self.project, self.log, at)


def is_sync_vault(vault: Vault) -> bool:
    return vault.cloud_type == "hybrid" or vault.protect_type == "replication"


def _syncing(project: ProjectState, vault_id: str) -> list[OperationLog]:
    logs = project.logs_matching({"operation_type": "sync", "vault_id": vault_id})
    return [log for log in logs if log.vault_id == vault_id and log.status in ("waiting", "running")]


def _start(
    world: World,
    project: ProjectState,
    vault: Vault,
    at: datetime,
    work: Callable[[datetime], SyncCounts],
    resource: dict[str, Any],
    size_gb: float = 0.0,
) -> OperationLog:
    log = operation_logs.open_log(
        world,
        project,
        "sync",
        at,
        resource=resource,
        vault=vault,
        provider_id=vault.provider_id,
        details={"sync": {"sync_backup_num": 0, "delete_backup_num": 0, "err_sync_backup_num": 0}},
    )
    world.runner.submit(SyncJob(project, log, work, size_gb), at)
    return log


# --- import_checkpoint ---------------------------------------------------------------------------


def import_checkpoint(call: Call) -> dict[str, Any]:
    request = call.body(SyncReq).sync
    vault = find_vault(call.project, request.vault_id)
    if not is_sync_vault(vault):
        raise CbrError.of("7300", f"Vault {vault.id} is neither a hybrid-cloud nor a replication vault.")
    if _syncing(call.project, vault.id):
        raise CbrError.of("7302", f"Vault {vault.id} is being synchronised.")
    resource = {
        "id": vault.id,
        "type": NATIVE_TYPE if vault.cloud_type == "hybrid" else "OS::Nova::Server",
        "name": vault.name,
    }
    log = _start(
        call.world,
        call.project,
        vault,
        call.now,
        lambda _: _vault_counts(call.world, call.project, vault),
        resource,
    )
    return {"sync": {"operation_log_id": log.id, "vault_id": vault.id}}


def _vault_counts(world: World, project: ProjectState, vault: Vault) -> SyncCounts:
    """What a vault's storage holds: its backups, and the replications into it that failed."""
    failed = sum(
        1
        for (region, _), source in world.projects.items()
        if region != project.region
        for backup in source.backups.values()
        for record in backup.replication_records
        if (record.destination_project_id, record.destination_vault_id) == (project.project_id, vault.id)
        and record.status == "fail"
    )
    held = [b for b in project.vault_backups(vault.id) if b.status == "available"]
    return {"sync_backup_num": len(held), "delete_backup_num": 0, "err_sync_backup_num": failed}


# --- import_backup -------------------------------------------------------------------------------


def _receiving_vault(project: ProjectState, item: BackupSync) -> Vault:
    """The sync vault that binds the item's resource or already holds copies of it."""
    for vault in project.vaults.values():
        if not is_sync_vault(vault):
            continue
        if item.resource_id in vault.resources or any(
            b.resource_id == item.resource_id for b in project.vault_backups(vault.id)
        ):
            return vault
    raise CbrError.of("7300", f"No hybrid-cloud or replication vault holds resource {item.resource_id}.")


def _check_new(project: ProjectState, items: list[BackupSync]) -> None:
    ids = [item.backup_id for item in items]
    if len(set(ids)) != len(ids):
        raise CbrError.of("9900", "A backup_id appears twice in sync.")
    running = project.logs_matching({"operation_type": "sync"})
    busy = {log.resource["id"] for log in running if log.status in ("waiting", "running")}
    for item in items:
        if item.resource_id in busy:
            raise CbrError.of("7302", f"Backups of resource {item.resource_id} are being synchronised.")
        if item.backup_id in project.backups:
            raise CbrError.of("9900", f"Backup {item.backup_id} is already in a vault.")


def import_backup(call: Call) -> dict[str, Any]:
    items = call.body(BackupSyncReq).sync
    _check_new(call.project, items)
    targets = [(item, _receiving_vault(call.project, item)) for item in items]
    answers = []
    for item, vault in targets:
        size_gb = _size_gb(call.project, vault, item.resource_id)
        resource = {"id": item.resource_id, "type": item.resource_type, "name": item.resource_name}
        log = _start(
            call.world,
            call.project,
            vault,
            call.now,
            _importer(call.world, call.project, vault, item, size_gb),
            resource,
            size_gb,
        )
        answers.append({"backup_id": item.backup_id, "operation_log_id": log.id})
    return {"sync": answers}


def _size_gb(project: ProjectState, vault: Vault, resource_id: str) -> int:
    known = [b.resource_size for b in project.vault_backups(vault.id) if b.resource_id == resource_id]
    bound = vault.resources.get(resource_id)
    return known[-1] if known else (bound.size_gb if bound else 0)


def _importer(
    world: World, project: ProjectState, vault: Vault, item: BackupSync, size_gb: int
) -> Callable[[datetime], SyncCounts]:
    def run(at: datetime) -> SyncCounts:
        if project.vaults.get(vault.id) is None:
            return {"sync_backup_num": 0, "delete_backup_num": 0, "err_sync_backup_num": 1}
        _catalogue(world, project, vault, item, size_gb, at)
        return {"sync_backup_num": 1, "delete_backup_num": 0, "err_sync_backup_num": 0}

    return run


def _catalogue(
    world: World, project: ProjectState, vault: Vault, item: BackupSync, size_gb: int, at: datetime
) -> Backup:
    """The imported copy, in a checkpoint of its own, as it was taken at ``item.created_at``."""
    taken = datetime.fromtimestamp(item.created_at, UTC)
    checkpoint = Checkpoint(
        id=world.ids.new(),
        project_id=project.project_id,
        vault_id=vault.id,
        vault_name=vault.name,
        created_at=at,
        status="available",
        name=item.backup_name,
    )
    backup = Backup(
        id=item.backup_id,
        name=item.backup_name,
        checkpoint_id=checkpoint.id,
        vault_id=vault.id,
        project_id=project.project_id,
        region=project.region,
        enterprise_project_id=vault.enterprise_project_id,
        resource_id=item.resource_id,
        resource_name=item.resource_name,
        resource_type=item.resource_type,
        resource_size=size_gb,
        resource_az="",
        created_at=taken,
        updated_at=at,
        protected_at=taken,
        status="available",
        image_type="replication" if vault.protect_type == "replication" else "backup",
        contain_system_disk=True,
        size_mb=size_gb * 1024,
    )
    checkpoint.backup_ids.append(backup.id)
    project.checkpoints[checkpoint.id] = checkpoint
    project.add_backup(backup)
    return backup
