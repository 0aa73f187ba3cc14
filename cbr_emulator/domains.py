"""Domains (accounts) and their projects: who the caller's domain is, and the three queries about it.

A domain is the set of tenants configured with one ``domain_name``; its id is derived from the name as
IAM derives it (:func:`~cbr_emulator.iam.stable_id`). A domain-scoped call runs in one of the caller's
projects (see ``domain_scope``); its domain is that project's.

Choices where the reference is silent: ``list_projects`` (``/v3/region-projects``) and
``list_domain_projects`` list the domain's projects of every region, as IAM's project lists do;
``show_domain`` answers for a project of the caller's domain only (another or unknown project: 404
``BackupService.6302``); links are relative to the emulator's URL, which also serves IAM.
"""

from __future__ import annotations

from typing import Any

from cbr_emulator.config import Tenant
from cbr_emulator.context import Call, World
from cbr_emulator.domain_state import DomainState
from cbr_emulator.errors import CbrError
from cbr_emulator.iam import project_body, stable_id


def domain_id(domain_name: str) -> str:
    return stable_id("domain", domain_name)


def project_tenant(world: World, project_id: str) -> Tenant | None:
    return next((t for t in world.config.tenants if t.project_id == project_id), None)


def caller_domain(call: Call) -> str:
    """The domain name of the project the call runs in."""
    tenant = project_tenant(call.world, call.project.project_id)
    if tenant is None:  # every call runs in a configured tenant's project; kept as a guard
        raise CbrError.of("9910", "The caller's project belongs to no configured tenant.")
    return tenant.domain_name


def domain_tenants(world: World, domain_name: str) -> list[Tenant]:
    return [t for t in world.config.tenants if t.domain_name == domain_name]


def domain_state(world: World, domain_name: str) -> DomainState:
    return world.domains.setdefault(domain_name, DomainState(name=domain_name))


def list_projects(call: Call) -> dict[str, Any]:
    tenants = domain_tenants(call.world, caller_domain(call))
    return {"projects": [project_body(t, "") for t in tenants], "links": {"self": "/v3/region-projects"}}


def list_domain_projects(call: Call) -> dict[str, Any]:
    tenants = domain_tenants(call.world, call.path("domain_name"))
    return {"projects": [{"project_id": t.project_id, "project_name": t.name} for t in tenants]}


def show_domain(call: Call) -> dict[str, Any]:
    source_project_id = call.path("source_project_id")
    tenant = project_tenant(call.world, source_project_id)
    if tenant is None or tenant.domain_name != caller_domain(call):
        raise CbrError.of("6302", f"Project {source_project_id} is not a project of the caller's domain.")
    return {
        "project_name": tenant.name,
        "project_id": tenant.project_id,
        "domain_id": domain_id(tenant.domain_name),
        "domain_name": tenant.domain_name,
    }
