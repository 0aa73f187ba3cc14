"""Sharing server backups with other projects of the same region."""

from __future__ import annotations

import re
from typing import Any

from cbr_emulator.backups import own_backup
from cbr_emulator.clock import stamp, stamp_optional
from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.inventory import SERVER_TYPE
from cbr_emulator.state import Backup, Member
from cbr_emulator.validation import AddMembersReq, UpdateMember, parse_sort

MAX_MEMBERS = 10
PROJECT_ID = re.compile(r"^[0-9a-f]{32}$")
SORT_KEYS = ("created_at", "updated_at", "status", "dest_project_id", "id")


def render(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "backup_id": member.backup_id,
        "dest_project_id": member.dest_project_id,
        "status": member.status,
        "vault_id": member.vault_id,
        "image_id": member.image_id,
        "created_at": stamp(member.created_at),
        "updated_at": stamp_optional(member.updated_at),
    }


def add_member(call: Call) -> dict[str, Any]:
    backup = own_backup(call)
    request = call.body(AddMembersReq)
    if backup.resource_type != SERVER_TYPE or backup.parent_id is not None:
        raise CbrError.of("6700")
    if backup.status != "available":
        raise CbrError.of("6702")
    wanted = list(dict.fromkeys(request.members))
    for project_id in wanted:
        if not PROJECT_ID.fullmatch(project_id) or project_id == call.project.project_id:
            raise CbrError.of("6704", f"{project_id} cannot receive a shared backup.")
        if call.world.lives_elsewhere(call.project.region, project_id):
            raise CbrError.of("6704", f"{project_id} is in another region; shares stay within a region.")
        if project_id in backup.members:
            raise CbrError.of("6714", f"The backup is already shared with {project_id}.")
    if len(backup.members) + len(wanted) > MAX_MEMBERS:
        raise CbrError.of("6701", f"A backup can be shared with at most {MAX_MEMBERS} projects.")
    added = [Member(call.world.ids.new(), backup.id, pid, call.now) for pid in wanted]
    backup.members.update((m.dest_project_id, m) for m in added)
    return {"members": [render(m) for m in added]}


def show_members_detail(call: Call) -> dict[str, Any]:
    backup = own_backup(call)
    query = call.query
    limit = query.number("limit", 1000, 1, 1000)
    offset = query.number("offset", 0, 0)
    order = parse_sort(query.text("sort"), SORT_KEYS) or [("created_at", True)]
    wanted = {
        "dest_project_id": query.text("dest_project_id"),
        "image_id": query.text("image_id"),
        "status": query.choice("status", ("pending", "accepted", "rejected")),
        "vault_id": query.text("vault_id"),
    }
    found = [
        m for m in backup.members.values() if all(v is None or getattr(m, k) == v for k, v in wanted.items())
    ]
    for key, descending in reversed(order):
        found.sort(key=lambda m, k=key: str(getattr(m, k) or ""), reverse=descending)  # type: ignore[misc]
    marker = query.text("marker")
    if marker:
        position = next((i for i, m in enumerate(found) if m.id == marker), None)
        if position is None:
            raise CbrError.of("9900", f"Marker {marker} is not a member of this listing.")
        found = found[position + 1 :]
    return {"members": [render(m) for m in found[offset : offset + limit]], "count": len(found)}


def _shared_backup(call: Call) -> tuple[Backup, Member]:
    """The backup and member a call names, seen by the owner or by the receiving project."""
    backup_id, member_id = call.path("backup_id"), call.path("member_id")
    backup = call.project.backups.get(backup_id)
    if backup is None:
        backup = next(
            (
                other.backups[backup_id]
                for other in call.world.same_region_projects(call.project.region)
                if backup_id in other.backups and call.project.project_id in other.backups[backup_id].members
            ),
            None,
        )
    if backup is None:
        raise CbrError.of("6200")
    member = backup.members.get(member_id)
    if member is None:
        raise CbrError.of("6705")
    return backup, member


def show_member_detail(call: Call) -> dict[str, Any]:
    _, member = _shared_backup(call)
    return {"member": render(member)}


def update_member_status(call: Call) -> dict[str, Any]:
    _, member = _shared_backup(call)
    request = call.body(UpdateMember)
    if member.dest_project_id != call.project.project_id:
        raise CbrError.of("6706", "Only the receiving project can accept or reject a shared backup.")
    if request.status == "accepted":
        if not request.vault_id:
            raise CbrError.of("9900", "vault_id is required to accept a shared backup.")
        vault = call.project.vaults.get(request.vault_id)
        if vault is None:
            raise CbrError.of("6105")
        if vault.object_type != "server" or vault.protect_type != "backup":
            raise CbrError.of("6713")
    member.status = request.status
    member.vault_id = request.vault_id if request.status == "accepted" else None
    member.updated_at = call.now
    return {"member": render(member)}


def delete_member(call: Call) -> None:
    backup = own_backup(call)
    member_id = call.path("member_id")
    if member_id not in backup.members:
        raise CbrError.of("6705")
    del backup.members[member_id]
