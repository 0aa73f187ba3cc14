"""Backups: queries, renaming, deletion, restoration and the metadata of a server backup."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cbr_emulator import deletion, operation_logs
from cbr_emulator.clock import stamp, stamp_optional
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import SERVER_TYPE, VOLUME_TYPE, Disk, Server
from cbr_emulator.state import (
    BACKUP_RESTORING,
    RESOURCE_TYPES,
    Backup,
    OperationLog,
    ProjectState,
    ReplicationRecord,
)
from cbr_emulator.validation import BackupRestore, BackupRestoreReq, BackupUpdateReq, parse_sort

STATUSES = (
    "available",
    "protecting",
    "deleting",
    "restoring",
    "error",
    "waiting_protect",
    "waiting_delete",
    "waiting_restore",
)
SORT_KEYS = ("created_at", "updated_at", "name", "status", "protected_at", "id")


# --- rendering -----------------------------------------------------------------------------------


def render(backup: Backup, show_replication: bool = False) -> dict[str, Any]:
    return {
        "checkpoint_id": backup.checkpoint_id,
        "created_at": stamp(backup.created_at),
        "description": backup.description,
        "expired_at": stamp_optional(backup.expired_at),
        "extend_info": _extend_info(backup),
        "id": backup.id,
        "image_type": backup.image_type,
        "name": backup.name,
        "parent_id": backup.parent_id,
        "project_id": backup.project_id,
        "protected_at": stamp_optional(backup.protected_at),
        "provider_id": backup.provider_id,
        "resource_az": backup.resource_az,
        "resource_id": backup.resource_id,
        "resource_name": backup.resource_name,
        "resource_size": backup.resource_size,
        "resource_type": backup.resource_type,
        "status": backup.status,
        "updated_at": stamp_optional(backup.updated_at),
        "vault_id": backup.vault_id,
        "replication_records": [render_record(r) for r in backup.replication_records]
        if show_replication
        else [],
        "enterprise_project_id": backup.enterprise_project_id,
        "children": [render(child) for child in backup.children],
        "incremental": backup.incremental,
        "version": 3,
    }


def _extend_info(backup: Backup) -> dict[str, Any]:
    return {
        "auto_trigger": backup.auto_trigger,
        "bootable": backup.bootable,
        "snapshot_id": None,
        "support_lld": False,
        "supported_restore_mode": "backup",
        "os_images_data": None,
        "contain_system_disk": backup.contain_system_disk,
        "encrypted": False,
        "system_disk": backup.system_disk,
        "is_multi_az": False,
    }


def render_record(record: ReplicationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "created_at": stamp(record.created_at),
        "status": record.status,
        "source_region": record.source_region,
        "source_project_id": record.source_project_id,
        "source_backup_id": record.source_backup_id,
        "source_checkpoint_id": record.source_checkpoint_id,
        "destination_region": record.destination_region,
        "destination_project_id": record.destination_project_id,
        "destination_vault_id": record.destination_vault_id,
        "destination_backup_id": record.destination_backup_id,
        "destination_checkpoint_id": record.destination_checkpoint_id,
        "vault_id": record.vault_id,
        "extra_info": {
            "progress": record.progress,
            "fail_code": record.fail_code,
            "fail_reason": record.fail_reason,
            "auto_trigger": record.auto_trigger,
            "destination_vault_id": record.destination_vault_id,
        },
    }


# --- lookups -------------------------------------------------------------------------------------


def own_backup(call: Call) -> Backup:
    backup = call.project.backups.get(call.path("backup_id"))
    if backup is None:
        raise CbrError.of("6200")
    return backup


def shared_with(call: Call) -> list[tuple[Backup, str]]:
    """Backups of other projects in this region shared with the caller, with the member status."""
    me = call.project.project_id
    return [
        (backup, backup.members[me].status)
        for other in call.world.same_region_projects(call.project.region)
        if other is not call.project
        for backup in other.backups.values()
        if me in backup.members
    ]


def visible_backup(call: Call) -> Backup:
    """A backup of the caller's project, or one shared with it."""
    backup_id = call.path("backup_id")
    found = call.project.backups.get(backup_id)
    if found is None:
        found = next((b for b, _ in shared_with(call) if b.id == backup_id), None)
    if found is None:
        raise CbrError.of("6200")
    return found


# --- list ----------------------------------------------------------------------------------------


def list_backups(call: Call) -> dict[str, Any]:
    query = call.query
    limit = query.number("limit", 1000, 1, 1000)
    offset = query.number("offset", 0, 0)
    order = parse_sort(query.text("sort"), SORT_KEYS) or [("created_at", True)]
    show_replication = query.boolean("show_replication")
    query.boolean("dec")
    keep = _backup_filter(call)
    found = [b for b in _candidates(call) if keep(b)]
    _sort(found, order)
    marker = query.text("marker")
    if marker:
        position = next((i for i, b in enumerate(found) if b.id == marker), None)
        if position is None:
            raise CbrError.of("9900", f"Marker {marker} is not a backup of this listing.")
        found_after = found[position + 1 :]
    else:
        found_after = found
    page = found_after[offset : offset + limit]
    return {
        "backups": [render(b, show_replication) for b in page],
        "count": len(found),
        "offset": offset,
        "limit": limit,
    }


def _candidates(call: Call) -> list[Backup]:
    query = call.query
    own_type = query.choice("own_type", ("private", "shared", "all_granted")) or "private"
    member_status = query.choice("member_status", ("pending", "accepted", "rejected"))
    own = list(_own_candidates(call)) if own_type != "shared" else []
    if own_type == "private":
        return own
    return own + [b for b, status in shared_with(call) if member_status in (None, status)]


def _own_candidates(call: Call) -> Iterable[Backup]:
    """A superset of the caller's backups the filters can match, found through the narrowest index."""
    project, query = call.project, call.query
    parent_id, checkpoint_id = query.text("parent_id"), query.text("checkpoint_id")
    vault_id = query.text("vault_id")
    if parent_id:
        parent = project.backups.get(parent_id)
        return parent.children if parent else ()
    if checkpoint_id:
        return project.by_checkpoint.get(checkpoint_id, {}).values()
    if vault_id:
        return project.by_vault.get(vault_id, {}).values()
    return project.backups.values()


def _backup_filter(call: Call) -> Callable[[Backup], bool]:
    query = call.query
    exact: dict[str, str | None] = {
        name: query.text(name)
        for name in ("checkpoint_id", "vault_id", "resource_id", "resource_name", "resource_az", "name")
    }
    exact["resource_type"] = query.choice("resource_type", RESOURCE_TYPES)
    exact["image_type"] = query.choice("image_type", ("backup", "replication"))
    eps = query.text("enterprise_project_id")
    exact["enterprise_project_id"] = None if eps in (None, "", "all_granted_eps") else eps
    statuses = set(query.choices("status", STATUSES))
    parent_id = query.text("parent_id")
    start, end = query.time("start_time"), query.time("end_time")
    incremental = query.boolean("incremental") if query.text("incremental") else None
    full_enough = _used_percent_filter(call)

    def keep(backup: Backup) -> bool:
        return (
            all(value is None or getattr(backup, key) == value for key, value in exact.items())
            and backup.parent_id == parent_id
            and (not statuses or backup.status in statuses)
            and (start is None or backup.created_at >= start)
            and (end is None or backup.created_at <= end)
            and (incremental is None or backup.incremental == incremental)
            and full_enough(backup)
        )

    return keep


def _used_percent_filter(call: Call) -> Callable[[Backup], bool]:
    text = call.query.text("used_percent")
    if not text:
        return lambda backup: True
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise CbrError.of("9900", "Query parameter used_percent must be 1-100.")
    threshold = int(text)
    project = call.project
    full = {
        vault.id
        for vault in project.vaults.values()
        if project.vault_used_mb(vault.id) * 100 >= threshold * vault.size_gb * 1024
    }
    return lambda backup: backup.vault_id in full


def _sort(backups: list[Backup], order: list[tuple[str, bool]]) -> None:
    backups.sort(key=lambda b: b.id, reverse=True)
    for key, descending in reversed(order):
        backups.sort(key=lambda b, k=key: _sortable(getattr(b, k)), reverse=descending)  # type: ignore[misc]


def _sortable(value: object) -> tuple[int, str]:
    if isinstance(value, datetime):
        return (1, stamp(value))
    return (0, "") if value is None else (1, str(value))


# --- single backup -------------------------------------------------------------------------------


def show_backup(call: Call) -> dict[str, Any]:
    return {"backup": render(visible_backup(call), show_replication=True)}


def update_backup(call: Call) -> dict[str, Any]:
    backup = own_backup(call)
    change = call.body(BackupUpdateReq).backup
    if change is not None and change.name is not None:
        backup.name = change.name
        backup.updated_at = call.now
    return {"backup": render(backup, show_replication=True)}


def delete_backup(call: Call) -> None:
    backup = own_backup(call)
    if backup.status in BACKUP_RESTORING or any(
        r.status in ("waiting_replicate", "replicating") for r in backup.replication_records
    ):
        raise CbrError.of("6216")
    if backup.parent_id is not None or backup.status not in ("available", "error"):
        raise CbrError.of("6201")
    if _newest_of_busy_resource(call.project, backup):
        raise CbrError.of(
            "6201", "The newest backup of a resource cannot be deleted while it is being backed up."
        )
    deletion.delete_backup(call.world, call.project, backup, call.now)


def _newest_of_busy_resource(project: ProjectState, backup: Backup) -> bool:
    if not project.busy(backup.resource_id, "backup"):
        return False
    done = [
        b
        for b in project.vault_backups(backup.vault_id)
        if b.resource_id == backup.resource_id and b.status == "available"
    ]
    return bool(done) and max(done, key=lambda b: b.created_at) is backup


def show_metadata(call: Call) -> dict[str, Any]:
    backup = visible_backup(call)
    if backup.status != "available":
        raise CbrError.of("6206")
    owner = call.world.project(backup.region, backup.project_id)
    found = owner.inventory.find(backup.resource_id)
    server = found if isinstance(found, Server) else None
    disks = list(server.disks) if server else [found] if isinstance(found, Disk) else []
    return {
        "backup_id": backup.id,
        "backups": json.dumps(render(backup)),
        "flavor": json.dumps({"flavor": {"id": server.flavor, "name": server.flavor}}) if server else "",
        "floatingips": [json.dumps({"floatingips": None})],
        "interface": json.dumps({"interfaceAttachments": []}),
        "ports": [],
        "server": json.dumps(_server_document(server)) if server else "",
        "volumes": [json.dumps({"volume": _disk_document(disk)}) for disk in disks],
        "workspace": "",
    }


def _server_document(server: Server) -> dict[str, Any]:
    return {
        "server": {
            "id": server.id,
            "name": server.name,
            "status": "ACTIVE",
            "flavor": {"id": server.flavor},
            "OS-EXT-AZ:availability_zone": server.availability_zone,
            "os-extended-volumes:volumes_attached": [{"id": d.id} for d in server.disks],
        }
    }


def _disk_document(disk: Disk) -> dict[str, Any]:
    return {
        "id": disk.id,
        "name": disk.name,
        "size": disk.size_gb,
        "bootable": str(disk.bootable).lower(),
        "availability_zone": disk.availability_zone,
        "volume_type": disk.volume_type,
        "attachments": [{"server_id": disk.server_id, "device": disk.device}] if disk.server_id else [],
    }


# --- restore -------------------------------------------------------------------------------------


@dataclass
class RestoreJob:
    project: ProjectState
    backup: Backup
    target_ids: list[str]
    log: OperationLog
    may_fail: bool = False

    @property
    def size_gb(self) -> float:
        return float(self.backup.resource_size)

    def begin(self, at: datetime) -> None:
        self.backup.set_status("restoring", at)
        operation_logs.begin(self.project, self.log, at)

    def report(self, progress: int, at: datetime) -> None:
        operation_logs.advance(self.log, progress, at)

    def finish(self, at: datetime, failed: bool) -> None:
        self.backup.set_status("available", at)
        for target in self.target_ids:
            self.project.mark(target, "restore", -1)
        operation_logs.succeed(self.project, self.log, at)


def restore_backup(call: Call) -> None:
    backup = own_backup(call)
    request = call.body(BackupRestoreReq).restore
    if backup.parent_id is not None:
        raise CbrError.of("9900", "Restore the whole-server backup, not one of its disk-level backups.")
    if backup.image_type == "replication":
        raise CbrError.of("2004")
    if backup.status != "available":
        raise CbrError.of("2005")
    target_id, target_name = _check_target(
        call.project, backup, request, call.world.config.cross_server_restore
    )
    for resource_id in {backup.resource_id, target_id}:
        if call.project.busy(resource_id, "backup"):
            raise CbrError.of("2002")
        if call.project.busy(resource_id, "restore"):
            raise CbrError.of("2010")
    _start_restore(call.world, call.project, backup, target_id, target_name, call.now)


def _check_target(
    project: ProjectState, backup: Backup, request: BackupRestore, other_servers: bool
) -> tuple[str, str]:
    """Validate where the backup goes (``other_servers``: a server's backup may go to another server too);
    answer the target resource's id and name."""
    if backup.resource_type == SERVER_TYPE:
        server = _check_server_restore(project, backup, request, other_servers)
        return server.id, server.name
    if backup.resource_type == VOLUME_TYPE:
        if not request.volume_id:
            raise CbrError.of("9900", "restore.volume_id is required to restore a disk backup.")
        disk = project.inventory.disks.get(request.volume_id)
        if disk is None:
            raise CbrError.of("7000")
        if disk.size_gb < backup.resource_size:
            raise CbrError.of("2001")
        return disk.id, disk.name
    target = request.resource_id or backup.resource_id
    return target, backup.resource_name if target == backup.resource_id else target


def _check_server_restore(
    project: ProjectState, backup: Backup, request: BackupRestore, other_servers: bool
) -> Server:
    if not request.server_id or not request.mappings:
        raise CbrError.of("9900", "restore.server_id and restore.mappings are required to restore a server.")
    server = project.inventory.servers.get(request.server_id)
    if server is None:
        raise CbrError.of("7100")
    if server.id != backup.resource_id and not other_servers:
        raise CbrError.of("2003")
    children = {child.id: child for child in backup.children}
    disks = {disk.id: disk for disk in server.disks}
    pairs = [(m.backup_id, m.volume_id) for m in request.mappings]
    if len({b for b, _ in pairs}) != len(pairs) or len({v for _, v in pairs}) != len(pairs):
        raise CbrError.of(
            "9900", "Each disk backup and each target disk may appear once in restore.mappings."
        )
    for child_id, volume_id in pairs:
        child, disk = children.get(child_id), disks.get(volume_id)
        if child is None:
            raise CbrError.of("9900", f"{child_id} is not a disk-level backup of backup {backup.id}.")
        if disk is None:
            raise CbrError.of("7000" if volume_id not in project.inventory.disks else "2012")
        if disk.size_gb < child.resource_size:
            raise CbrError.of("2001")
        if disk.bootable and not child.system_disk:
            raise CbrError.of("2013")
    return server


def _start_restore(
    world: World, project: ProjectState, backup: Backup, target_id: str, target_name: str, at: datetime
) -> None:
    log = operation_logs.open_log(
        world,
        project,
        "restore",
        at,
        resource=deletion.resource_block(backup),
        vault=project.vaults.get(backup.vault_id),
        provider_id=backup.provider_id,
        details={
            "restore": {
                "backup_id": backup.id,
                "backup_name": backup.name,
                "target_resource_id": target_id,
                "target_resource_name": target_name,
            }
        },
        checkpoint_id=backup.checkpoint_id,
    )
    # a server restored onto another (scratch) server: only the target is busy, not the backed-up server
    other_server = backup.resource_type == SERVER_TYPE and target_id != backup.resource_id
    targets = [target_id] if other_server else sorted({target_id, backup.resource_id})
    for target in targets:
        project.mark(target, "restore", +1)
    backup.set_status("waiting_restore", at)
    world.runner.submit(RestoreJob(project, backup, targets, log), at)
