"""Restore points: one backup run over (some of) a vault's resources, one backup per resource."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cbr_emulator import operation_logs, retention
from cbr_emulator.clock import stamp
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import Disk, Server
from cbr_emulator.state import (
    BACKUP_BUSY,
    Backup,
    Checkpoint,
    CheckpointResource,
    OperationLog,
    ProjectState,
    SkippedResource,
    Vault,
    VaultResource,
)
from cbr_emulator.validation import VaultBackupReq

INJECTED_FAILURE = (
    "BackupService.9910",
    "Unknown error. (Failure injected by the emulator's failure_probability.)",
)


@dataclass(frozen=True)
class RunRequest:
    """What one backup run is asked to do."""

    resource_ids: list[str] | None = None  # None: every resource bound to the vault
    name: str | None = None
    description: str | None = None
    incremental: bool = True
    auto_trigger: bool = False
    policy_id: str | None = None
    retention_days: int = -1


@dataclass
class BackupJob:
    world: World
    project: ProjectState
    checkpoint: Checkpoint
    backup: Backup
    log: OperationLog
    may_fail: bool = True

    @property
    def size_gb(self) -> float:
        return self.backup.size_mb / 1024

    def begin(self, at: datetime) -> None:
        self.backup.set_status("protecting", at)
        operation_logs.begin(self.project, self.log, at)

    def report(self, progress: int, at: datetime) -> None:
        operation_logs.advance(self.log, progress, at)

    def finish(self, at: datetime, failed: bool) -> None:
        backup, key = self.backup, (self.backup.vault_id, self.backup.resource_id)
        self.project.mark(backup.resource_id, "backup", -1)
        if failed:
            backup.set_status("error", at)
            operation_logs.fail(self.project, self.log, at, *INJECTED_FAILURE)
            self.project.failed_last.add(key)
        else:
            backup.set_status("available", at)
            for item in (backup, *backup.children):
                item.protected_at = at
            operation_logs.succeed(self.project, self.log, at)
            self.project.failed_last.discard(key)
        self.checkpoint.unfinished -= 1
        if self.checkpoint.unfinished == 0:
            _settle(self.project, self.checkpoint)
        if self._retention_applies(at):
            retention.sweep(self.world, self.project, backup.vault_id, at)

    def _retention_applies(self, at: datetime) -> bool:
        """A finished backup matters to retention only by count, or if it expired while running."""
        vault = self.project.vaults.get(self.backup.vault_id)
        policy = self.project.policies.get(vault.backup_policy_id or "") if vault else None
        expired = self.backup.expired_at is not None and self.backup.expired_at <= at
        return expired or (policy is not None and policy.max_backups > 0)


def _settle(project: ProjectState, checkpoint: Checkpoint) -> None:
    statuses = [project.backups[i].status for i in checkpoint.backup_ids if i in project.backups]
    if any(status in BACKUP_BUSY for status in statuses):
        return
    checkpoint.status = "error" if statuses and all(s == "error" for s in statuses) else "available"


# --- starting a run ------------------------------------------------------------------------------


def check_vault_accepts_backup(project: ProjectState, vault: Vault) -> None:
    if vault.status != "available" or vault.locked:
        raise CbrError.of("6113")
    if vault.protect_type == "replication":
        raise CbrError.of("6124")
    if not vault.auto_expand and project.vault_used_mb(vault.id) >= vault.size_gb * 1024:
        raise CbrError.of("6114")


def check_vault_holds(project: ProjectState, vault: Vault, planned_mb: int) -> None:
    """A vault that does not expand refuses backups that would store more than it has left: counted with
    what its backups still running will store (6114, as for a vault already full)."""
    if vault.auto_expand:
        return
    kept = sum(b.size_mb for b in project.vault_backups(vault.id) if b.status in ("available", *BACKUP_BUSY))
    if kept + planned_mb > vault.size_gb * 1024:
        free_gb = max(0, vault.size_gb * 1024 - kept) / 1024
        detail = f"The new backups need {planned_mb / 1024:.1f} GB; {free_gb:.1f} GB are free."
        raise CbrError.of("6114", detail)


def select_resources(project: ProjectState, vault: Vault, wanted: list[str] | None) -> list[VaultResource]:
    if not wanted:
        chosen = list(vault.resources.values())
    else:
        if len(set(wanted)) != len(wanted):
            raise CbrError.of("6104")
        missing = [rid for rid in wanted if rid not in vault.resources]
        if missing:
            raise CbrError.of("6135", f"Resources {', '.join(missing)} are not in vault {vault.id}.")
        chosen = [vault.resources[rid] for rid in wanted]
    if not chosen:
        raise CbrError.of("0001")
    return chosen


def skip_reason(project: ProjectState, resource: VaultResource) -> SkippedResource | None:
    if project.busy(resource.id, "backup"):
        code, reason = "BackupService.6125", f"Resource {resource.id} is being backed up."
    elif project.busy(resource.id, "restore"):
        code, reason = "BackupService.2010", f"Resource {resource.id} is restoring."
    else:
        return None
    return SkippedResource(resource.id, resource.type, resource.name, code, reason)


@dataclass(frozen=True)
class _Run:
    """One backup run under way: where it happens and what it was asked."""

    world: World
    project: ProjectState
    vault: Vault
    checkpoint: Checkpoint
    request: RunRequest
    at: datetime
    backed_up: frozenset[str]  # resources with an earlier backup in the vault to build on


def start_run(world: World, project: ProjectState, vault: Vault, run: RunRequest, at: datetime) -> Checkpoint:
    """Validate, then create the checkpoint, its backups and their operation logs, and start them."""
    check_vault_accepts_backup(project, vault)
    chosen = select_resources(project, vault, run.resource_ids)
    skipped = [s for s in (skip_reason(project, r) for r in chosen) if s is not None]
    if len(skipped) == len(chosen):
        busy = any(s.code.endswith("6125") for s in skipped)
        raise CbrError.of("0002" if busy else "2010")
    backed_up = frozenset(project.resource_stats(vault.id))
    skipped_ids = {s.id for s in skipped}
    started = [r for r in chosen if r.id not in skipped_ids]
    check_vault_holds(
        project, vault, sum(_planned_mb(project, r, run.incremental, backed_up) for r in started)
    )
    checkpoint = Checkpoint(
        id=world.ids.new(),
        project_id=project.project_id,
        vault_id=vault.id,
        vault_name=vault.name,
        created_at=at,
        name=run.name,
        description=run.description,
        retention_duration=run.retention_days,
        auto_trigger=run.auto_trigger,
        policy_id=run.policy_id,
        skipped=skipped,
    )
    project.checkpoints[checkpoint.id] = checkpoint
    under_way = _Run(world, project, vault, checkpoint, run, at, backed_up)
    for resource in started:
        checkpoint.resources.append(
            CheckpointResource(
                resource.id, resource.name, resource.type, resource.size_gb, resource.extra_info
            )
        )
        _start_backup(under_way, resource)
    return checkpoint


def _start_backup(run: _Run, resource: VaultResource) -> None:
    backup = _new_backup(run, resource)
    run.project.add_backup(backup)
    run.project.mark(resource.id, "backup", +1)
    run.checkpoint.backup_ids.append(backup.id)
    run.checkpoint.unfinished += 1
    log = operation_logs.open_log(
        run.world,
        run.project,
        "backup",
        run.at,
        resource={"id": resource.id, "type": resource.type, "name": resource.name},
        vault=run.vault,
        provider_id=backup.provider_id,
        details={"backup": _log_block(backup)},
        checkpoint_id=run.checkpoint.id,
        policy_id=run.request.policy_id,
    )
    retention.watch_expiry(run.world, run.project, backup)
    job = BackupJob(run.world, run.project, run.checkpoint, backup, log)
    run.world.runner.submit(job, run.at, pool=run.world.backup_pool(run.project))


def _log_block(backup: Backup) -> dict[str, Any]:
    return {
        "backup_id": backup.id,
        "backup_name": backup.name,
        "incremental": "true" if backup.incremental else "false",
        "app_consistency_status": "0",
        "app_consistency_error_code": "0",
        "app_consistency_error_message": "",
    }


def _backup_name(run: _Run, resource: VaultResource) -> str:
    if run.request.name:
        return run.request.name
    prefix = (run.vault.backup_name_prefix or "autobk") if run.request.auto_trigger else "manualbk"
    return f"{prefix}_{run.checkpoint.id[:4]}_{resource.name}"[:64]


def _new_backup(run: _Run, resource: VaultResource) -> Backup:
    found = run.project.inventory.find(resource.id)
    incremental = run.request.incremental and resource.id in run.backed_up
    days, at = run.request.retention_days, run.at
    backup = Backup(
        id=run.world.ids.new(),
        name=_backup_name(run, resource),
        description=run.request.description,
        checkpoint_id=run.checkpoint.id,
        vault_id=run.vault.id,
        project_id=run.project.project_id,
        region=run.project.region,
        enterprise_project_id=run.vault.enterprise_project_id,
        resource_id=resource.id,
        resource_name=resource.name,
        resource_type=resource.type,
        resource_size=resource.size_gb,
        resource_az=found.availability_zone if found else "",
        created_at=at,
        updated_at=at,
        expired_at=at + timedelta(days=days) if days > 0 else None,
        auto_trigger=run.request.auto_trigger,
        incremental=incremental,
        policy_id=run.request.policy_id,
    )
    if isinstance(found, Server):
        disks = _backed_up_disks(found, resource)
        backup.children = [_child(run.world, backup, disk, at) for disk in disks]
        backup.contain_system_disk = any(disk.bootable for disk in disks)
        backup.resource_size = sum(disk.size_gb for disk in disks)
    elif isinstance(found, Disk):
        backup.system_disk = backup.bootable = found.bootable
    backup.size_mb = _stored_mb(backup.resource_size, incremental)
    for child in backup.children:
        child.size_mb = _stored_mb(child.resource_size, incremental)
    return backup


def _backed_up_disks(server: Server, resource: VaultResource) -> list[Disk]:
    excluded = set((resource.extra_info or {}).get("exclude_volumes") or [])
    return [disk for disk in server.disks if disk.id not in excluded]


def _planned_mb(
    project: ProjectState, resource: VaultResource, incremental: bool, backed_up: frozenset[str]
) -> int:
    """What the backup of ``resource`` will store (as :func:`_new_backup` sizes it)."""
    found = project.inventory.find(resource.id)
    size = (
        sum(d.size_gb for d in _backed_up_disks(found, resource))
        if isinstance(found, Server)
        else resource.size_gb
    )
    return _stored_mb(size, incremental and resource.id in backed_up)


def _stored_mb(size_gb: int, incremental: bool) -> int:
    """Data a backup keeps: the whole resource when full, a twentieth of it when incremental."""
    full = size_gb * 1024
    return max(1, full // 20) if incremental else full


def _child(world: World, parent: Backup, disk: Disk, at: datetime) -> Backup:
    return Backup(
        id=world.ids.new(),
        name=parent.name,
        description=parent.description,
        checkpoint_id=parent.checkpoint_id,
        vault_id=parent.vault_id,
        project_id=parent.project_id,
        region=parent.region,
        enterprise_project_id=parent.enterprise_project_id,
        resource_id=disk.id,
        resource_name=disk.name,
        resource_type=disk.type,
        resource_size=disk.size_gb,
        resource_az=disk.availability_zone,
        created_at=at,
        updated_at=at,
        expired_at=parent.expired_at,
        parent_id=parent.id,
        auto_trigger=parent.auto_trigger,
        incremental=parent.incremental,
        system_disk=disk.bootable,
        bootable=disk.bootable,
    )


# --- rendering and handlers ----------------------------------------------------------------------


def render(project: ProjectState, checkpoint: Checkpoint) -> dict[str, Any]:
    stats = project.resource_stats(checkpoint.vault_id)
    return {
        "id": checkpoint.id,
        "project_id": checkpoint.project_id,
        "status": checkpoint.status,
        "created_at": stamp(checkpoint.created_at),
        "vault": {
            "id": checkpoint.vault_id,
            "name": checkpoint.vault_name,
            "resources": [_render_resource(project, checkpoint, r, stats) for r in checkpoint.resources],
            "skipped_resources": [
                {"id": s.id, "type": s.type, "name": s.name, "code": s.code, "reason": s.reason}
                for s in checkpoint.skipped
            ],
        },
        "extra_info": {
            "name": checkpoint.name,
            "description": checkpoint.description,
            "retention_duration": checkpoint.retention_duration,
        },
    }


def _render_resource(
    project: ProjectState,
    checkpoint: Checkpoint,
    resource: CheckpointResource,
    stats: dict[str, tuple[int, int]],
) -> dict[str, Any]:
    count, size_mb = stats.get(resource.id, (0, 0))
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "protect_status": project.protect_status(checkpoint.vault_id, resource.id),
        "resource_size": str(resource.size_gb),
        "backup_size": str(size_mb),
        "backup_count": str(count),
        "extra_info": None if resource.extra_info is None else json.dumps(resource.extra_info),
    }


def create_checkpoint(call: Call) -> dict[str, Any]:
    request = call.body(VaultBackupReq).checkpoint
    vault = call.project.vaults.get(request.vault_id)
    if vault is None:
        raise CbrError.of("6105")
    params = request.parameters
    run = RunRequest()
    if params is not None:
        if params.policy_id is not None and params.policy_id not in call.project.policies:
            raise CbrError.of("6000")
        ids = list(params.resources or []) + [r.id for r in params.resource_details or []]
        run = RunRequest(
            resource_ids=ids or None,
            name=params.name,
            description=params.description,
            incremental=params.incremental is not False,
            auto_trigger=bool(params.auto_trigger),
            policy_id=params.policy_id,
            retention_days=params.retention_duration_days or -1,
        )
    checkpoint = start_run(call.world, call.project, vault, run, call.now)
    return {"checkpoint": render(call.project, checkpoint)}


def show_checkpoint(call: Call) -> dict[str, Any]:
    checkpoint = call.project.checkpoints.get(call.path("checkpoint_id"))
    if checkpoint is None:
        raise CbrError.of("6217")
    return {"checkpoint": render(call.project, checkpoint)}
