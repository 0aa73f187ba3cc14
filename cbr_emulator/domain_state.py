"""What the emulator remembers per domain (account): organisation policies and the domain's migration.

Plain dataclasses, as in ``state``; ``organization_policies`` and ``migrations`` change and render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cbr_emulator.progression import Timeline


@dataclass
class PolicyDeployment:
    """An organisation policy in one member project: the ordinary policy it becomes there."""

    region: str
    project_id: str
    policy_id: str
    status: str = "syncing"  # then "available"


@dataclass
class OrganizationPolicy:
    id: str
    name: str
    operation_type: str
    policy_name: str
    policy_enabled: bool
    policy_operation_definition: dict[str, Any]
    policy_trigger: dict[str, Any]  # {"properties": {"pattern": [...], "start_window_minutes": ...}}
    created_at: datetime
    description: str | None = None
    effective_scope: str | None = None
    deployments: list[PolicyDeployment] = field(default_factory=list)
    generation: int = 0  # bumped at each change, so that a stale deployment timer does nothing

    @property
    def status(self) -> str:
        return "syncing" if any(d.status == "syncing" for d in self.deployments) else "available"


@dataclass(frozen=True)
class MigratingProject:
    region: str
    project_id: str
    project_name: str


@dataclass
class Migration:
    """One run of ``migrate_domain``: every project it covers follows ``timeline``."""

    started_at: datetime
    reservation: float
    projects: list[MigratingProject]
    timeline: Timeline


@dataclass
class DomainState:
    name: str
    organization_policies: dict[str, OrganizationPolicy] = field(default_factory=dict)
    migration: Migration | None = None
