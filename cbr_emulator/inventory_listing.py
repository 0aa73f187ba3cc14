"""What a project holds, listed for people: servers with their disks, standalone disks, the vault each
one is bound to and its newest available backup (with the disk backups a server restore maps).

Served as ``GET /_emulator/inventory`` and printed by ``cbr-orchestrator emulator-inventory``, so that a
user can find real ids to back up and restore without an IAM token and paging ``protectables``.
Read-only.
"""

from __future__ import annotations

from typing import Any

from cbr_emulator.clock import stamp
from cbr_emulator.inventory import Disk, Server
from cbr_emulator.state import Backup, ProjectState, Vault


def project_listing(state: ProjectState) -> dict[str, Any]:
    """One project's inventory, JSON-ready, in the order the inventory was generated."""
    vaults = _vault_by_resource(state)
    newest = _newest_backups(state)

    def disk(found: Disk) -> dict[str, Any]:
        listed = {
            "id": found.id,
            "name": found.name,
            "type": found.type,
            "size_gb": found.size_gb,
            "availability_zone": found.availability_zone,
            "volume_type": found.volume_type,
        }
        if found.server_id is not None:
            listed |= {"device": found.device, "bootable": found.bootable}
        return listed | _protection(found.id, vaults, newest)

    def server(found: Server) -> dict[str, Any]:
        return {
            "id": found.id,
            "name": found.name,
            "type": found.type,
            "size_gb": found.size_gb,
            "availability_zone": found.availability_zone,
            "flavor": found.flavor,
            **_protection(found.id, vaults, newest),
            "disks": [disk(d) for d in found.disks],
        }

    inventory = state.inventory
    return {
        "region": state.region,
        "project_id": state.project_id,
        "servers": [server(s) for s in inventory.servers.values()],
        "disks": [disk(d) for d in inventory.disks.values() if d.server_id is None],
    }


def _protection(
    resource_id: str, vaults: dict[str, Vault], newest: dict[str, Backup]
) -> dict[str, dict[str, Any] | None]:
    vault = vaults.get(resource_id)
    backup = newest.get(resource_id)
    return {
        "vault": {"id": vault.id, "name": vault.name} if vault else None,
        "latest_backup": _backup(backup) if backup else None,
    }


def _backup(backup: Backup) -> dict[str, Any]:
    return {
        "id": backup.id,
        "checkpoint_id": backup.checkpoint_id,
        "vault_id": backup.vault_id,
        "created_at": stamp(backup.created_at),
        # the pairs a restore of this backup onto its own server maps (the command's ``mappings``)
        "disk_backups": [{"backup_id": c.id, "volume_id": c.resource_id} for c in backup.children],
    }


def _vault_by_resource(state: ProjectState) -> dict[str, Vault]:
    return {resource_id: vault for vault in state.vaults.values() for resource_id in vault.resources}


def _newest_backups(state: ProjectState) -> dict[str, Backup]:
    """The newest available whole-resource backup of each resource, in one pass."""
    newest: dict[str, Backup] = {}
    for backup in state.backups.values():
        if backup.parent_id is not None or backup.status != "available":
            continue
        known = newest.get(backup.resource_id)
        if known is None or backup.created_at >= known.created_at:
            newest[backup.resource_id] = backup
    return newest
