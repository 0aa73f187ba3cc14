"""Moving bound resources, with their backups, from one vault to another (``migrate_vault_resource``).

The move is synchronous in the emulator (no operation log: CBR's task types know none for it): each
resource leaves the source vault and is bound to the destination with its ``auto_protect`` setting,
and its backups (with their disk-level children) move along, keeping their checkpoint. Checked first,
so that a refused move changes nothing: the destination exists in the project (400 ``6120``), is not
the source, is a backup vault (``6108``) of an object type that holds the resources (``6102``), has
room for them (``6100``) and, unless it expands on demand, for their backups (``6114``); every
resource is in the source vault (``6135``) and neither being backed up (``6125``) nor restored
(``2010``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.state import (
    MAX_VAULT_RESOURCES,
    RESOURCE_TYPES_BY_OBJECT_TYPE,
    ProjectState,
    Vault,
    VaultResource,
)
from cbr_emulator.validation import Body, Id
from cbr_emulator.vaults import find_vault


class VaultMigrateResourceReq(Body):
    destination_vault_id: Id
    resource_ids: Annotated[list[Id], Field(min_length=1, max_length=256)]


def _destination(project: ProjectState, source: Vault, destination_id: str) -> Vault:
    destination = project.vaults.get(destination_id)
    if destination is None:
        raise CbrError.of("6120")
    if destination.id == source.id:
        raise CbrError.of("9900", "destination_vault_id: the destination is the source vault.")
    if destination.protect_type == "replication":
        raise CbrError.of("6108", "A replication vault holds no resources.")
    return destination


def _check_resources(project: ProjectState, source: Vault, destination: Vault, ids: list[str]) -> None:
    missing = [rid for rid in ids if rid not in source.resources]
    if missing:
        raise CbrError.of("6135", f"Resources {', '.join(missing)} are not in vault {source.id}.")
    accepted = RESOURCE_TYPES_BY_OBJECT_TYPE.get(destination.object_type, ())
    for rid in ids:
        resource = source.resources[rid]
        if resource.type not in accepted:
            raise CbrError.of("6102", f"A {destination.object_type} vault does not hold {resource.type}.")
        if project.busy(rid, "backup"):
            raise CbrError.of("6125", f"Resource {rid} is being backed up.")
        if project.busy(rid, "restore"):
            raise CbrError.of("2010", f"Resource {rid} is restoring.")
    if len(destination.resources) + len(ids) > MAX_VAULT_RESOURCES:
        raise CbrError.of("6100", f"A vault holds at most {MAX_VAULT_RESOURCES} resources.")


def _check_room(project: ProjectState, destination: Vault, moving_mb: int) -> None:
    if destination.auto_expand:
        return
    if project.vault_used_mb(destination.id) + moving_mb > destination.size_gb * 1024:
        detail = f"The backups moved need {moving_mb / 1024:.1f} GB in vault {destination.id}."
        raise CbrError.of("6114", detail)


def _move(project: ProjectState, source: Vault, destination: Vault, resource: VaultResource) -> None:
    for backup in [b for b in project.vault_backups(source.id) if b.resource_id == resource.id]:
        project.drop_backup(backup)
        for item in (backup, *backup.children):
            item.vault_id = destination.id
        project.add_backup(backup)
    if (source.id, resource.id) in project.failed_last:
        project.failed_last.discard((source.id, resource.id))
        project.failed_last.add((destination.id, resource.id))
    destination.resources[resource.id] = source.resources.pop(resource.id)


def migrate_vault_resource(call: Call) -> dict[str, Any]:
    source = find_vault(call.project, call.path("vault_id"))
    request = call.body(VaultMigrateResourceReq)
    destination = _destination(call.project, source, request.destination_vault_id)
    ids = list(dict.fromkeys(request.resource_ids))
    _check_resources(call.project, source, destination, ids)
    moving_mb = sum(
        b.size_mb
        for b in call.project.vault_backups(source.id)
        if b.resource_id in ids and b.status == "available"
    )
    _check_room(call.project, destination, moving_mb)
    for rid in ids:
        _move(call.project, source, destination, source.resources[rid])
    return {"migrated_resources": ids}
