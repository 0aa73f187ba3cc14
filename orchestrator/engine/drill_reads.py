"""The two reads of a restore drill: a vault's newest server backups, and a scratch server's disks."""

from __future__ import annotations

from typing import Any

from orchestrator.cbr.client import CbrClient
from orchestrator.cbr.models import Backup
from orchestrator.cbr.query import BackupFilter
from orchestrator.workflows.base import (
    BackupListed,
    BackupsListed,
    DiskBackup,
    ListBackups,
    ServerDisk,
    ServerDisks,
    ShowServerDisks,
)

SERVER_TYPE = "OS::Nova::Server"


async def backups_listed(client: CbrClient, req: ListBackups) -> BackupsListed:
    """One page, newest first, of the vault's available whole-server backups."""
    filters = BackupFilter(
        vault_id=req.vault_id, resource_type=SERVER_TYPE, status="available", sort="created_at:desc"
    )
    page = await client.list_backups(filters, limit=req.limit)
    listed = tuple(_listed(b) for b in page.backups if _whole_server(b))
    return BackupsListed(req.vault_id, listed)


def _whole_server(backup: Backup) -> bool:
    whole = backup.parent_id is None and backup.resource_type == SERVER_TYPE
    return whole and backup.status == "available" and bool(backup.resource_id)


def _listed(backup: Backup) -> BackupListed:
    disks = tuple(
        DiskBackup(
            child.id,
            float(child.resource_size or 0),
            bool(child.extend_info and child.extend_info.system_disk),
        )
        for child in backup.children
    )
    return BackupListed(backup.id, backup.resource_id or "", backup.created_at or "", disks)


async def server_disks(client: CbrClient, req: ShowServerDisks) -> ServerDisks:
    server = await client.show_protectable("server", req.server_id)
    return ServerDisks(req.server_id, tuple(_disk(child) for child in server.children))


def _disk(child: dict[str, Any]) -> ServerDisk:
    detail = child.get("detail") or {}
    bootable = str(detail.get("bootable", "false")).lower() == "true"
    return ServerDisk(str(child.get("id", "")), float(child.get("size") or 0), bootable)
