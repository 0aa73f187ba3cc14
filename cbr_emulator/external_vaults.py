"""The vaults of the caller's account in another region (``list_external_vault``).

What a replication is set up with: ``external_project_id`` must be a project of the caller's domain
that lives in ``region_id`` (both required; anything else is 400 ``BackupService.9900``). Its vaults
are listed as ``list_vault`` lists them, newest first, filtered by ``protect_type``, ``cloud_type`` and
the object type (spelt ``objcet_type``, as in the API); ``vault_id`` overrides the other filters.
"""

from __future__ import annotations

from typing import Any

from cbr_emulator.context import Call
from cbr_emulator.domains import caller_domain, project_tenant
from cbr_emulator.errors import CbrError
from cbr_emulator.state import RESOURCE_TYPES_BY_OBJECT_TYPE, ProjectState, Vault
from cbr_emulator.vaults import render


def _required(call: Call, name: str) -> str:
    value = call.query.text(name)
    if not value:
        raise CbrError.of("9900", f"Query parameter {name} is required.")
    return value


def _external_project(call: Call) -> ProjectState:
    project_id, region = _required(call, "external_project_id"), _required(call, "region_id")
    tenant = project_tenant(call.world, project_id)
    if tenant is None or tenant.region != region or tenant.domain_name != caller_domain(call):
        detail = f"Project {project_id} is not a project of the caller's account in {region}."
        raise CbrError.of("9900", detail)
    return call.world.project(region, project_id)


def _chosen(call: Call, project: ProjectState) -> list[Vault]:
    vault_id = call.query.text("vault_id")
    if vault_id:
        return [v for v in project.vaults.values() if v.id == vault_id]
    wanted = {
        "protect_type": call.query.choice("protect_type", ("backup", "replication", "hybrid")),
        "cloud_type": call.query.choice("cloud_type", ("public", "hybrid")),
        "object_type": call.query.choice("objcet_type", tuple(RESOURCE_TYPES_BY_OBJECT_TYPE)),
    }
    return [
        v
        for v in project.vaults.values()
        if all(value is None or getattr(v, key) == value for key, value in wanted.items())
    ]


def list_external_vault(call: Call) -> dict[str, Any]:
    limit = call.query.number("limit", 1000, 1, 1000)
    offset = call.query.number("offset", 0, 0)
    project = _external_project(call)
    found = sorted(_chosen(call, project), key=lambda v: v.created_at, reverse=True)
    return {
        "vaults": [render(project, v) for v in found[offset : offset + limit]],
        "count": len(found),
        "limit": limit,
        "offset": offset,
    }
