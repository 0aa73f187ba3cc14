"""Vaults: creation, queries, updates, deletion, bound resources and applied policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cbr_emulator import deletion, operation_logs, policies, replication
from cbr_emulator.clock import stamp
from cbr_emulator.context import Call, World
from cbr_emulator.errors import CbrError
from cbr_emulator.state import (
    BACKUP_BUSY,
    BACKUP_RESTORING,
    MAX_VAULT_RESOURCES,
    RESOURCE_TYPES_BY_OBJECT_TYPE,
    ProjectState,
    Vault,
    VaultResource,
)
from cbr_emulator.validation import (
    BindRules,
    ResourceIn,
    VaultAddResourceReq,
    VaultAssociate,
    VaultCreate,
    VaultCreateReq,
    VaultDissociate,
    VaultRemoveResourceReq,
    VaultUpdateReq,
)

USER_ID = "e0a1b2c3d4e5f60718293a4b5c6d7e8f"


# --- rendering -----------------------------------------------------------------------------------


def render(project: ProjectState, vault: Vault) -> dict[str, Any]:
    """A vault in the shape of the SDK's ``Vault`` model."""
    stats = project.resource_stats(vault.id)
    return {
        "id": vault.id,
        "name": vault.name,
        "description": vault.description,
        "project_id": vault.project_id,
        "provider_id": vault.provider_id,
        "billing": _billing(project, vault),
        "resources": [_resource(project, vault, r, stats) for r in vault.resources.values()],
        "tags": [{"key": k, "value": v} for k, v in vault.tags.items()],
        "enterprise_project_id": vault.enterprise_project_id,
        "auto_bind": vault.auto_bind,
        "bind_rules": {"tags": vault.bind_rules} if vault.bind_rules else {},
        "user_id": vault.user_id,
        "created_at": stamp(vault.created_at),
        "auto_expand": vault.auto_expand,
        "smn_notify": vault.smn_notify,
        "threshold": vault.threshold,
        "sys_lock_source_service": None,
        "locked": vault.locked,
        "availability_zone": vault.availability_zone,
    }


def render_created(project: ProjectState, vault: Vault) -> dict[str, Any]:
    """The ``VaultCreateResource`` answered by create_vault: a Vault plus four creation-only fields."""
    return render(project, vault) | {
        "backup_name_prefix": vault.backup_name_prefix,
        "demand_billing": False,
        "cbc_delete_count": 0,
        "frozen": False,
    }


def _billing(project: ProjectState, vault: Vault) -> dict[str, Any]:
    used_mb = project.vault_used_mb(vault.id)
    return {
        "allocated": _allocated_gb(used_mb),
        "charging_mode": vault.charging_mode,
        "cloud_type": vault.cloud_type,
        "consistent_level": vault.consistent_level,
        "object_type": vault.object_type,
        "order_id": vault.order_id,
        "product_id": vault.product_id,
        "protect_type": vault.protect_type,
        "size": vault.size_gb,
        "spec_code": vault.spec_code,
        "status": vault.status,
        "storage_unit": None,
        "used": used_mb,
        "frozen_scene": None,
        "is_multi_az": vault.is_multi_az,
    }


def _allocated_gb(used_mb: int) -> int:
    return -(-used_mb // 1024)


def _resource(
    project: ProjectState, vault: Vault, resource: VaultResource, stats: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    count, size_mb = stats.get(resource.id, (0, 0))
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "protect_status": project.protect_status(vault.id, resource.id),
        "size": resource.size_gb,
        "backup_size": size_mb,
        "backup_count": count,
        "auto_protect": resource.auto_protect,
        "extra_info": resource.extra_info,
    }


def find_vault(project: ProjectState, vault_id: str) -> Vault:
    vault = project.vaults.get(vault_id)
    if vault is None:
        raise CbrError.of("6105")
    return vault


# --- resources -----------------------------------------------------------------------------------


def check_new_resources(
    project: ProjectState, vault: Vault | None, object_type: str, wanted: list[ResourceIn]
) -> list[VaultResource]:
    """Validate resources to bind; answer them ready to add (nothing changes here)."""
    ids = [r.id for r in wanted]
    if len(set(ids)) != len(ids):
        raise CbrError.of("6104")
    accepted = RESOURCE_TYPES_BY_OBJECT_TYPE.get(object_type, ())
    fresh: list[VaultResource] = []
    for item in wanted:
        if item.type not in accepted:
            raise CbrError.of("6102", f"A {object_type} vault does not hold {item.type} resources.")
        found = project.inventory.find(item.id)
        if found is None or found.type != item.type:
            raise CbrError.of("6302", f"Resource {item.id} of type {item.type} does not exist.")
        if project.vault_of_resource(item.id) is not None:
            raise CbrError.of("6103", f"Resource {item.id} is already bound to a vault.")
        extra = item.extra_info.model_dump(exclude_none=True) if item.extra_info else None
        fresh.append(VaultResource(item.id, item.type, found.name, found.size_gb, extra))
    bound = len(vault.resources) if vault else 0
    if bound + len(fresh) > MAX_VAULT_RESOURCES:
        raise CbrError.of("6100", f"A vault holds at most {MAX_VAULT_RESOURCES} resources.")
    return fresh


def add_vault_resource(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    request = call.body(VaultAddResourceReq)
    if vault.protect_type == "replication":
        raise CbrError.of("6108")
    fresh = check_new_resources(call.project, vault, vault.object_type, request.resources)
    vault.resources.update((r.id, r) for r in fresh)
    return {"add_resource_ids": [r.id for r in fresh]}


def remove_vault_resource(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    ids = list(dict.fromkeys(call.body(VaultRemoveResourceReq).resource_ids))
    missing = [rid for rid in ids if rid not in vault.resources]
    if missing:
        raise CbrError.of("6135", f"Resources {', '.join(missing)} are not in vault {vault.id}.")
    for rid in ids:
        if call.project.busy(rid, "backup"):
            raise CbrError.of("6125", f"Resource {rid} is being backed up.")
        if call.project.busy(rid, "restore"):
            raise CbrError.of("2010", f"Resource {rid} is restoring.")
    removed = [vault.resources.pop(rid) for rid in ids]
    _forget_backups(call.world, call.project, vault, removed, call.now)
    return {"remove_resource_ids": ids}


def _forget_backups(
    world: World, project: ProjectState, vault: Vault, removed: list[VaultResource], at: datetime
) -> None:
    """Dissociating resources deletes their backups in the vault (one ``remove_resource`` task)."""
    ids = {r.id for r in removed}
    doomed = [
        b
        for b in project.vault_backups(vault.id)
        if b.resource_id in ids and b.status in ("available", "error")
    ]
    for rid in ids:
        project.failed_last.discard((vault.id, rid))
    first = removed[0]
    log = operation_logs.open_log(
        world,
        project,
        "remove_resource",
        at,
        resource={"id": first.id, "type": first.type, "name": first.name},
        vault=vault,
        provider_id=vault.provider_id,
        details={
            "remove_resources": {
                "fail_count": 0,
                "total_count": len(removed),
                "resources": [{"id": r.id, "type": r.type, "name": r.name} for r in removed],
            }
        },
    )
    deletion.delete_backups(world, project, doomed, log, at)


# --- vault lifecycle -----------------------------------------------------------------------------


def create_vault(call: Call) -> dict[str, Any]:
    vault = add_vault(call, call.body(VaultCreateReq).vault)
    return {"vault": render_created(call.project, vault)}


def add_vault(call: Call, request: VaultCreate) -> Vault:
    """Create the vault a validated request describes (also used by the order of a pre-paid vault)."""
    billing = request.billing
    fresh = check_new_resources(call.project, None, billing.object_type, request.resources)
    policy = None
    if request.backup_policy_id:
        policy = policies.find_policy(call.project, request.backup_policy_id)
        _check_backup_policy(
            call.project, billing.protect_type, billing.cloud_type or "public", policy.operation_type
        )
    vault = Vault(
        id=call.world.ids.new(),
        name=request.name,
        project_id=call.project.project_id,
        region=call.project.region,
        object_type=billing.object_type,
        protect_type=billing.protect_type,
        consistent_level=billing.consistent_level,
        size_gb=billing.size,
        created_at=call.now,
        user_id=USER_ID,
        cloud_type=billing.cloud_type or "public",
        charging_mode=billing.charging_mode or "post_paid",
        is_multi_az=bool(billing.is_multi_az),
        description=request.description,
        enterprise_project_id=request.enterprise_project_id or "0",
        auto_bind=bool(request.auto_bind),
        bind_rules=_bind_rules(request.bind_rules),
        auto_expand=bool(request.auto_expand),
        smn_notify=request.smn_notify is not False,
        threshold=request.threshold or 80,
        backup_name_prefix=request.backup_name_prefix,
        locked=bool(request.locked),
        availability_zone=request.availability_zone,
        resources={r.id: r for r in fresh},
        tags={t.key: t.value for t in request.tags or []},
        backup_policy_id=policy.id if policy else None,
    )
    call.project.vaults[vault.id] = vault
    return vault


def _bind_rules(rules: BindRules | None) -> list[dict[str, str]]:
    return [{"key": t.key, "value": t.value} for t in (rules.tags or [])] if rules else []


def show_vault(call: Call) -> dict[str, Any]:
    return {"vault": render(call.project, find_vault(call.project, call.path("vault_id")))}


def list_vault(call: Call) -> dict[str, Any]:
    query = call.query
    limit = query.number("limit", 1000, 1, 1000)
    offset = query.number("offset", 0, 0)
    exact = {
        "cloud_type": query.choice("cloud_type", ("public", "hybrid")),
        "protect_type": query.choice("protect_type", ("backup", "replication", "hybrid")),
        "object_type": query.choice("object_type", tuple(RESOURCE_TYPES_BY_OBJECT_TYPE)),
        "status": query.choice("status", ("available", "lock", "frozen", "deleting", "error")),
        "name": query.text("name"),
    }
    eps = query.text("enterprise_project_id")
    ids = set(query.texts("id"))
    policy_id = query.text("policy_id")
    resource_ids = set(query.texts("resource_ids"))
    found = [
        v
        for v in call.project.vaults.values()
        if all(value is None or getattr(v, key) == value for key, value in exact.items())
        and (eps in (None, "", "all_granted_eps") or v.enterprise_project_id == eps)
        and (not ids or v.id in ids)
        and (not policy_id or policy_id in (v.backup_policy_id, v.replication_policy_id))
        and (not resource_ids or bool(resource_ids & set(v.resources)))
    ]
    found.sort(key=lambda v: v.created_at, reverse=True)
    page = found[offset : offset + limit]
    return {
        "vaults": [render(call.project, v) for v in page],
        "count": len(found),
        "limit": limit,
        "offset": offset,
    }


def update_vault(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    change = call.body(VaultUpdateReq).vault
    billing = change.billing
    if billing is not None and billing.size is not None:
        used_gb = _allocated_gb(call.project.vault_used_mb(vault.id))
        if billing.size < vault.size_gb or billing.size < used_gb:
            raise CbrError.of("6101", "The capacity of a pay-per-use vault can only grow.")
    if billing is not None and billing.consistent_level == "app_consistent" and vault.object_type != "server":
        raise CbrError.of("9900", "app_consistent applies to server vaults only.")
    _apply_update(vault, change.model_dump(exclude_none=True, exclude={"billing", "bind_rules"}))
    if billing is not None:
        vault.size_gb = billing.size or vault.size_gb
        vault.consistent_level = billing.consistent_level or vault.consistent_level
    if change.bind_rules is not None:
        vault.bind_rules = _bind_rules(change.bind_rules)
    return {"vault": render(call.project, vault)}


def _apply_update(vault: Vault, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(vault, name, value)


def delete_vault(call: Call) -> None:
    vault = find_vault(call.project, call.path("vault_id"))
    backups = call.project.vault_backups(vault.id)
    if any(b.status in BACKUP_BUSY + BACKUP_RESTORING for b in backups):
        raise CbrError.of("6203")
    if any(r.status in ("waiting_replicate", "replicating") for b in backups for r in b.replication_records):
        raise CbrError.of("6130")
    doomed = [b for b in backups if b.status in ("available", "error")]
    del call.project.vaults[vault.id]
    log = operation_logs.open_log(
        call.world,
        call.project,
        "vault_delete",
        call.now,
        resource={"id": vault.id, "type": _vault_resource_type(vault), "name": vault.name},
        vault=vault,
        provider_id=vault.provider_id,
        details={"vault_delete": {"fail_count": 0, "total_count": len(doomed)}},
    )
    deletion.delete_backups(call.world, call.project, doomed, log, call.now)


def _vault_resource_type(vault: Vault) -> str:
    types = RESOURCE_TYPES_BY_OBJECT_TYPE.get(vault.object_type) or ("OS::Nova::Server",)
    return types[0]


def show_summary(call: Call) -> dict[str, Any]:
    vaults = list(call.project.vaults.values())
    return {
        "size": sum(v.size_gb for v in vaults),
        "used_size": sum(call.project.vault_used_mb(v.id) for v in vaults),
    }


# --- policies ------------------------------------------------------------------------------------


def _check_backup_policy(
    project: ProjectState, protect_type: str, cloud_type: str, operation_type: str
) -> None:
    if operation_type != "backup":
        raise CbrError.of("6127", "Only a backup policy can be given as backup_policy_id.")
    if protect_type != "backup":
        raise CbrError.of("6127", "A backup policy applies to backup vaults only.")
    if cloud_type == "hybrid":
        raise CbrError.of("6136")


def associate_vault_policy(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    request = call.body(VaultAssociate)
    chosen = [policies.find_policy(call.project, pid) for pid in request.policy_ids]
    for policy in chosen:
        if policy.operation_type == "backup":
            _check_backup_policy(call.project, vault.protect_type, vault.cloud_type, "backup")
        else:
            _check_replication_policy(call, vault, policy.operation_definition, request.destination_vault_id)
    for policy in chosen:
        if policy.operation_type == "backup":
            vault.backup_policy_id = policy.id
        else:
            vault.replication_policy_id = policy.id
            vault.replication_destination_vault_id = request.destination_vault_id
    last = chosen[-1]
    answer = {"vault_id": vault.id, "policy_id": last.id}
    if last.operation_type == "replication":
        answer["destination_vault_id"] = request.destination_vault_id or ""
    return {"associate_policy": answer}


def _check_replication_policy(
    call: Call, vault: Vault, definition: dict[str, Any], destination_vault_id: str | None
) -> None:
    if vault.protect_type != "backup" or vault.object_type != "server":
        raise CbrError.of("6127", "A replication policy applies to server backup vaults only.")
    if not destination_vault_id:
        raise CbrError.of("9900", "destination_vault_id is required to apply a replication policy.")
    replication.find_destination(
        call.world,
        call.project,
        str(definition.get("destination_region")),
        str(definition.get("destination_project_id")),
        destination_vault_id,
    )


def disassociate_vault_policy(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    policy = policies.find_policy(call.project, call.body(VaultDissociate).policy_id)
    if policy.id not in (vault.backup_policy_id, vault.replication_policy_id):
        raise CbrError.of("6002")
    answer = {"vault_id": vault.id, "policy_id": policy.id}
    if policy.id == vault.replication_policy_id:
        answer["destination_vault_id"] = vault.replication_destination_vault_id or ""
    policies.detach(vault, policy)
    return {"dissociate_policy": answer}
