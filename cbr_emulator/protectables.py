"""What can be protected: the project's servers and disks, replication targets and storage usage."""

from __future__ import annotations

from typing import Any

from cbr_emulator.clock import stamp
from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import Disk, Resource, Server
from cbr_emulator.state import RESOURCE_TYPES, ProjectState
from cbr_emulator.vaults import render as render_vault

TYPES = ("server", "disk", "turbo", "workspace", "workspace_v2")
STATUSES = ("active", "available", "deleted", "error")


VaultViews = dict[str, dict[str, Any]]  # vaults rendered once per answer, by id


def _protectable(project: ProjectState, resource: Resource, views: VaultViews) -> dict[str, Any]:
    vault = project.vault_of_resource(resource.id)
    shown = None
    if vault is not None:
        if vault.id not in views:
            views[vault.id] = render_vault(project, vault) | {
                "updated_at": stamp(vault.created_at),
                "version": "1",
            }
        shown = views[vault.id]
    return {"result": True, "code": "", "reason": "", "vault": shown}


def _disk_detail(disk: Disk) -> dict[str, Any]:
    attachments = (
        [{"server_id": disk.server_id, "device": disk.device, "volume_id": disk.id}] if disk.server_id else []
    )
    return {
        "id": disk.id,
        "name": disk.name,
        "size": disk.size_gb,
        "bootable": str(disk.bootable).lower(),
        "availability_zone": disk.availability_zone,
        "volume_type": disk.volume_type,
        "status": "in-use" if disk.server_id else "available",
        "attachments": attachments,
    }


def render(project: ProjectState, resource: Resource, views: VaultViews | None = None) -> dict[str, Any]:
    """One protectable; ``views`` shares the rendering of a vault among the resources of one answer."""
    views = {} if views is None else views
    if isinstance(resource, Server):
        children = [render(project, disk, views) for disk in resource.disks]
        detail: dict[str, Any] = {
            "id": resource.id,
            "name": resource.name,
            "status": "ACTIVE",
            "flavor": {"id": resource.flavor},
            "OS-EXT-AZ:availability_zone": resource.availability_zone,
        }
    else:
        children, detail = [], _disk_detail(resource)
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "size": resource.size_gb,
        "status": "active",
        "children": children,
        "detail": detail,
        "protectable": _protectable(project, resource, views),
    }


def _of_type(project: ProjectState, kind: str) -> list[Resource]:
    if kind == "server":
        return list(project.inventory.servers.values())
    if kind == "disk":
        return list(project.inventory.disks.values())
    return []


def _kind(call: Call) -> str:
    kind = call.path("protectable_type")
    if kind not in TYPES:
        raise CbrError.of("9900", f"protectable_type must be one of: {', '.join(TYPES)}.")
    return kind


def list_protectable(call: Call) -> dict[str, Any]:
    kind, query = _kind(call), call.query
    limit = query.number("limit", 50, 1, 50)
    offset = query.number("offset", 0, 0)
    status = query.choice("status", STATUSES)
    name, wanted_id, server_id = query.text("name"), query.text("id"), query.text("server_id")
    found = [
        r
        for r in _of_type(call.project, kind)
        if (not name or name in r.name)
        and (not wanted_id or r.id == wanted_id)
        and (not server_id or (isinstance(r, Disk) and r.server_id == server_id))
        and status in (None, "active", "available")
    ]
    marker = query.text("marker")
    if marker:
        position = next((i for i, r in enumerate(found) if r.id == marker), None)
        if position is None:
            raise CbrError.of("9900", f"Marker {marker} is not an instance of this listing.")
        found = found[position + 1 :]
    views: VaultViews = {}
    return {"instances": [render(call.project, r, views) for r in found[offset : offset + limit]]}


def show_protectable(call: Call) -> dict[str, Any]:
    kind = _kind(call)
    if kind not in ("server", "disk"):
        raise CbrError.of("9900", "protectable_type must be server or disk.")
    instance_id = call.path("instance_id")
    inventory = call.project.inventory
    found: Resource | None = (inventory.servers if kind == "server" else inventory.disks).get(instance_id)
    if found is None:
        raise CbrError.of("6302")
    return {"instance": render(call.project, found)}


def show_replication_capabilities(call: Call) -> dict[str, Any]:
    regions = call.world.regions()
    return {
        "regions": [
            {"name": region, "replication_destinations": [r for r in regions if r != region]}
            for region in regions
        ]
    }


def show_storage_usage(call: Call) -> dict[str, Any]:
    query = call.query
    limit = query.number("limit", 1000, 1, 1000)
    offset = query.number("offset", 0, 0)
    resource_type = query.choice("resource_type", RESOURCE_TYPES)
    resource_id = query.text("resource_id")
    usage: dict[str, dict[str, Any]] = {}
    for backup in call.project.backups.values():
        if backup.parent_id is not None or backup.status != "available":
            continue
        if resource_id not in (None, "", backup.resource_id) or resource_type not in (
            None,
            backup.resource_type,
        ):
            continue
        row = usage.setdefault(
            backup.resource_id,
            {
                "resource_id": backup.resource_id,
                "resource_name": backup.resource_name,
                "resource_type": backup.resource_type,
                "backup_count": 0,
                "backup_size": 0,
                "backup_size_multiaz": 0,
            },
        )
        row["backup_count"] += 1
        row["backup_size"] += backup.size_mb
    rows = list(usage.values())
    return {"resource_count": len(rows), "storage_usage": rows[offset : offset + limit]}
