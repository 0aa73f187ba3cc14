"""Which project a domain-scoped call runs in, as the gateway decides it.

The domain and migration calls (``/v3/region-projects``, ``/v3/domain/…``, ``/v3/migrates``) name no
project in their path. The emulator serves every region on one URL, so it still needs one of the
caller's projects to know the region and the domain the call is about:

1. ``X-Project-Id`` (the official SDK sends it with ``BasicCredentials``), which must be a project the
   identity may use (403 ``APIGW.0302`` otherwise);
2. else ``X-Domain-Id`` (sent with ``GlobalCredentials``): the identity's first project in that domain;
3. else the identity's first project, in the order the tenants are configured.

A ``{domain_name}`` in the path must then be the domain of that project (403 ``APIGW.0302``).
``{source_project_id}`` is not a scope: the domain answers for it (``show_domain``).
"""

from __future__ import annotations

from collections.abc import Mapping

from cbr_emulator.auth import Identity
from cbr_emulator.config import Tenant
from cbr_emulator.gateway import GatewayError
from cbr_emulator.iam import stable_id
from cbr_emulator.routes import RouteMatch
from cbr_emulator.tenants import TenantDirectory


def domain_forbidden(domain: str) -> GatewayError:
    message = f"The authenticated identity is not authorized to access domain {domain}"
    return GatewayError(403, "APIGW.0302", message)


def _chosen(identity: Identity, headers: Mapping[str, str], tenants: TenantDirectory) -> Tenant:
    project_id = headers.get("X-Project-Id", "").strip()
    if project_id:
        identity.authorize(project_id)
        tenant = tenants.tenant(project_id)
        if tenant is None:  # an identity only holds configured projects; kept as a guard
            raise GatewayError.forbidden(project_id)
        return tenant
    usable = [t for t in tenants.tenants if t.project_id in identity.projects]
    domain_id = headers.get("X-Domain-Id", "").strip()
    if domain_id:
        usable = [t for t in usable if stable_id("domain", t.domain_name) == domain_id]
        if not usable:
            raise domain_forbidden(domain_id)
    if not usable:
        raise GatewayError.forbidden("(none)")
    return usable[0]


def scope_project(
    identity: Identity, match: RouteMatch, headers: Mapping[str, str], tenants: TenantDirectory
) -> str:
    """The project id a domain-scoped call runs in, or a 403 ``GatewayError``."""
    tenant = _chosen(identity, headers, tenants)
    domain_name = match.params.get("domain_name")
    if domain_name is not None and domain_name != tenant.domain_name:
        raise domain_forbidden(domain_name)
    return tenant.project_id
