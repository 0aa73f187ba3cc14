"""Cross-region replication of server backups into a replication vault of another project."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cbr_emulator import operation_logs
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import SERVER_TYPE
from cbr_emulator.state import (
    PROVIDER_SERVER,
    Backup,
    Checkpoint,
    OperationLog,
    ProjectState,
    ReplicationRecord,
    Vault,
)
from cbr_emulator.validation import BackupReplicateReq, CheckpointReplicateReq

LIVE = ("waiting_replicate", "replicating", "success")


@dataclass(frozen=True)
class Destination:
    project: ProjectState
    vault: Vault


@dataclass(frozen=True)
class Copy:
    """What one replication is asked to do."""

    name: str | None = None
    description: str | None = None
    auto_trigger: bool = False
    policy_id: str | None = None


def find_destination(
    world: World, source: ProjectState, region: str, project_id: str, vault_id: str
) -> Destination:
    """The replication vault named by a request, or the CBR error explaining why it cannot receive."""
    if region == source.region or region not in world.regions():
        raise CbrError.of("1005", f"Region {region} is not a replication destination of {source.region}.")
    if not world.is_tenant(region, project_id):
        raise CbrError.of("1011", f"Project {project_id} is not known in region {region}.")
    project = world.project(region, project_id)
    vault = project.vaults.get(vault_id)
    if vault is None:
        raise CbrError.of("6120")
    if vault.protect_type != "replication":
        raise CbrError.of("6119")
    if not vault.auto_expand and project.vault_used_mb(vault.id) >= vault.size_gb * 1024:
        raise CbrError.of("6129")
    return Destination(project, vault)


def refusal(backup: Backup, region: str) -> CbrError | None:
    """Why ``backup`` cannot be replicated to ``region``, or None when it can."""
    if backup.image_type != "backup" or backup.parent_id is not None:
        return CbrError.of("1002")
    if backup.status != "available":
        return CbrError.of("1001")
    if backup.resource_type != SERVER_TYPE:
        return CbrError.of("1003")
    if not backup.contain_system_disk:
        return CbrError.of("1004")
    if any(r.destination_region == region and r.status in LIVE for r in backup.replication_records):
        return CbrError.of("1009")
    return None


@dataclass
class ReplicationJob:
    world: World
    source: ProjectState
    backup: Backup
    record: ReplicationRecord
    destination: Destination
    copy: Copy
    log: OperationLog
    may_fail: bool = False

    @property
    def size_gb(self) -> float:
        return float(self.backup.resource_size)

    def begin(self, at: datetime) -> None:
        self.record.status = "replicating"
        operation_logs.begin(self.source, self.log, at)

    def report(self, progress: int, at: datetime) -> None:
        self.record.progress = progress
        operation_logs.advance(self.log, progress, at)

    def finish(self, at: datetime, failed: bool) -> None:
        vault = self.destination.project.vaults.get(self.destination.vault.id)
        if vault is None:
            self.record.status, self.record.fail_code = "fail", "BackupService.1008"
            self.record.fail_reason = str(CbrError.of("1008").message)
            operation_logs.fail(self.source, self.log, at, self.record.fail_code, self.record.fail_reason)
            return
        replica = _replica(self.world, self.destination.project, vault, self.backup, self.copy, at)
        self.record.status, self.record.progress = "success", 100
        self.record.destination_backup_id = replica.id
        self.record.destination_checkpoint_id = replica.checkpoint_id
        block = self.log.details["replication"]
        block["destination_backup_id"] = replica.id
        block["destination_checkpoint_id"] = replica.checkpoint_id
        operation_logs.succeed(self.source, self.log, at)


def _replica(
    world: World, project: ProjectState, vault: Vault, source: Backup, copy: Copy, at: datetime
) -> Backup:
    checkpoint = Checkpoint(
        id=world.ids.new(),
        project_id=project.project_id,
        vault_id=vault.id,
        vault_name=vault.name,
        created_at=at,
        status="available",
        name=copy.name or source.name,
        description=copy.description,
        auto_trigger=copy.auto_trigger,
    )
    project.checkpoints[checkpoint.id] = checkpoint
    replica = _copy_of(world, source, project, vault, checkpoint, at, copy)
    replica.children = [
        _copy_of(world, c, project, vault, checkpoint, at, copy, replica.id) for c in source.children
    ]
    checkpoint.backup_ids.append(replica.id)
    project.add_backup(replica)
    return replica


def _copy_of(
    world: World,
    source: Backup,
    project: ProjectState,
    vault: Vault,
    checkpoint: Checkpoint,
    at: datetime,
    copy: Copy,
    parent_id: str | None = None,
) -> Backup:
    return Backup(
        id=world.ids.new(),
        name=copy.name or source.name,
        description=copy.description if copy.description is not None else source.description,
        checkpoint_id=checkpoint.id,
        vault_id=vault.id,
        project_id=project.project_id,
        region=project.region,
        enterprise_project_id=vault.enterprise_project_id,
        resource_id=source.resource_id,
        resource_name=source.resource_name,
        resource_type=source.resource_type,
        resource_size=source.resource_size,
        resource_az=source.resource_az,
        created_at=at,
        updated_at=at,
        protected_at=at,
        status="available",
        image_type="replication",
        parent_id=parent_id,
        auto_trigger=copy.auto_trigger,
        contain_system_disk=source.contain_system_disk,
        system_disk=source.system_disk,
        bootable=source.bootable,
        size_mb=source.resource_size * 1024,
    )


def replicate(
    world: World, source: ProjectState, backup: Backup, destination: Destination, copy: Copy, at: datetime
) -> ReplicationRecord:
    """Queue the replication of one eligible backup; answer its replication record."""
    record = ReplicationRecord(
        id=world.ids.new(),
        created_at=at,
        source_region=source.region,
        source_project_id=source.project_id,
        source_backup_id=backup.id,
        source_checkpoint_id=backup.checkpoint_id,
        destination_region=destination.project.region,
        destination_project_id=destination.project.project_id,
        destination_vault_id=destination.vault.id,
        vault_id=backup.vault_id,
        auto_trigger=copy.auto_trigger,
    )
    backup.replication_records.append(record)
    log = operation_logs.open_log(
        world,
        source,
        "replication",
        at,
        resource={"id": backup.resource_id, "type": backup.resource_type, "name": backup.resource_name},
        vault=source.vaults.get(backup.vault_id),
        provider_id=backup.provider_id,
        details={"replication": _log_block(record, backup, copy)},
        checkpoint_id=backup.checkpoint_id,
        policy_id=copy.policy_id,
    )
    world.runner.submit(ReplicationJob(world, source, backup, record, destination, copy, log), at)
    return record


def _log_block(record: ReplicationRecord, backup: Backup, copy: Copy) -> dict[str, Any]:
    return {
        "source_region": record.source_region,
        "source_project_id": record.source_project_id,
        "source_backup_id": record.source_backup_id,
        "source_checkpoint_id": record.source_checkpoint_id,
        "source_backup_name": backup.name,
        "destination_region": record.destination_region,
        "destination_project_id": record.destination_project_id,
        "destination_backup_id": None,
        "destination_checkpoint_id": None,
        "destination_backup_name": copy.name or backup.name,
    }


def replicable(backups: list[Backup], region: str) -> list[Backup]:
    return [b for b in backups if refusal(b, region) is None]


def copy_backup(call: Call) -> dict[str, Any]:
    backup = call.project.backups.get(call.path("backup_id"))
    if backup is None:
        raise CbrError.of("6200")
    request = call.body(BackupReplicateReq).replicate
    problem = refusal(backup, request.destination_region)
    if problem is not None:
        raise problem
    destination = find_destination(
        call.world,
        call.project,
        request.destination_region,
        request.destination_project_id,
        request.destination_vault_id,
    )
    copy = Copy(name=request.name, description=request.description)
    record = replicate(call.world, call.project, backup, destination, copy, call.now)
    return {
        "replication": {
            "backup_id": backup.id,
            "destination_project_id": record.destination_project_id,
            "destination_region": record.destination_region,
            "destination_vault_id": record.destination_vault_id,
            "project_id": call.project.project_id,
            "provider_id": backup.provider_id,
            "replication_record_id": record.id,
            "source_region": call.project.region,
        }
    }


def replicate_vault(
    world: World, source: ProjectState, vault: Vault, destination: Destination, copy: Copy, at: datetime
) -> list[tuple[Backup, ReplicationRecord]]:
    """Queue every backup of ``vault`` that may still go to the destination region."""
    if vault.protect_type != "backup":
        raise CbrError.of("6128")
    eligible = replicable(source.vault_backups(vault.id), destination.project.region)
    if not eligible:
        raise CbrError.of("0001", "No backup of the vault can be replicated to the destination region.")
    return [(b, replicate(world, source, b, destination, copy, at)) for b in eligible]


def copy_checkpoint(call: Call) -> dict[str, Any]:
    request = call.body(CheckpointReplicateReq).replicate
    vault = call.project.vaults.get(request.vault_id)
    if vault is None:
        raise CbrError.of("6105")
    destination = find_destination(
        call.world,
        call.project,
        request.destination_region,
        request.destination_project_id,
        request.destination_vault_id,
    )
    copy = Copy(auto_trigger=bool(request.auto_trigger))
    queued = replicate_vault(call.world, call.project, vault, destination, copy, call.now)
    return {
        "replication": {
            "backups": [{"backup_id": b.id, "replication_record_id": r.id} for b, r in queued],
            "destination_project_id": request.destination_project_id,
            "destination_region": request.destination_region,
            "destination_vault_id": request.destination_vault_id,
            "project_id": call.project.project_id,
            "provider_id": PROVIDER_SERVER,
            "source_region": call.project.region,
            "vault_id": vault.id,
        }
    }
