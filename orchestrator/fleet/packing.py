"""Packing a fleet's resources into child backups: one vault and at most 256 resources per child.

Pure and deterministic (the same selection gives the same children, so a re-planned fleet after a crash
creates no second child). Resources already bound to a vault are backed up in it; the rest go into the
target vaults with room, or into vaults created by name for this fleet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.messages import VAULT_CAPACITY, AutoVaults, ResourceResult

OBJECT_TYPES = {"OS::Nova::Server": "server", "OS::Cinder::Volume": "disk", "OS::Sfs::Turbo": "turbo"}
RESOURCE_TYPES = {v: k for k, v in OBJECT_TYPES.items()}
NO_ROOM = "orchestrator.no_vault_capacity"


@dataclass(frozen=True, order=True)
class Target:
    """A selected resource; ``bound_vault`` when CBR says it is already in a vault."""

    project_id: str
    region: str
    resource_id: str
    resource_type: str = "OS::Nova::Server"
    bound_vault: str | None = None


@dataclass(frozen=True)
class VaultChoice:
    """By id (an existing vault), or by name with the object type to create it with."""

    vault_id: str | None = None
    name: str | None = None
    object_type: str = "server"


@dataclass(frozen=True)
class ChildPlan:
    project_id: str
    region: str
    vault: VaultChoice
    resources: tuple[Target, ...]


@dataclass(frozen=True)
class Plan:
    children: tuple[ChildPlan, ...]
    unplaced: tuple[ResourceResult, ...] = ()


def chunks(items: list[Target], size: int = VAULT_CAPACITY) -> Iterable[tuple[Target, ...]]:
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


def plan_auto(selected: Iterable[Target], fleet_tag: str, auto: AutoVaults) -> Plan:
    """Bound resources into their vaults; the others into new vaults of ≤256, per project and type."""
    bound, free = _split_bound(selected)
    children = _bound_children(bound)
    groups: dict[tuple[str, str, str], list[Target]] = defaultdict(list)
    for t in free:
        groups[(t.project_id, t.region, OBJECT_TYPES.get(t.resource_type, "server"))].append(t)
    for (project, region, object_type), members in sorted(groups.items()):
        for n, chunk in enumerate(chunks(members), start=1):
            name = f"{auto.name_prefix}-{fleet_tag}-{object_type}-{n:03d}"
            children.append(
                ChildPlan(project, region, VaultChoice(name=name, object_type=object_type), chunk)
            )
    return Plan(tuple(children))


def plan_into(selected: Iterable[Target], vaults: dict[str, list[str]]) -> Plan:
    """Into the given vaults (id → resources bound now): bound ones stay, others fill the free room."""
    members: dict[str, list[Target]] = {vid: [] for vid in vaults}
    where = {rid: vid for vid, ids in vaults.items() for rid in ids}
    room = {vid: VAULT_CAPACITY - len(ids) for vid, ids in vaults.items()}
    unplaced = []
    for t in sorted(set(selected)):
        vid = where.get(t.resource_id) or next((v for v in vaults if room[v] > 0), None)
        if vid is None:
            unplaced.append(_no_room(t))
            continue
        if t.resource_id not in where:
            room[vid] -= 1
        members[vid].append(t)
    children = [
        ChildPlan(ts[0].project_id, ts[0].region, VaultChoice(vault_id=vid), chunk)
        for vid, ts in members.items()
        if ts
        for chunk in chunks(ts)
    ]
    return Plan(tuple(children), tuple(unplaced))


def _split_bound(selected: Iterable[Target]) -> tuple[list[Target], list[Target]]:
    ordered = sorted(set(selected))
    return [t for t in ordered if t.bound_vault], [t for t in ordered if not t.bound_vault]


def _bound_children(bound: list[Target]) -> list[ChildPlan]:
    by_vault: dict[tuple[str, str, str], list[Target]] = defaultdict(list)
    for t in bound:
        by_vault[(t.project_id, t.region, t.bound_vault or "")].append(t)
    return [
        ChildPlan(project, region, VaultChoice(vault_id=vid), chunk)
        for (project, region, vid), members in sorted(by_vault.items())
        for chunk in chunks(members)
    ]


def _no_room(t: Target) -> ResourceResult:
    return ResourceResult(
        resource_id=t.resource_id,
        resource_type=t.resource_type,
        status="skipped",
        error_code=NO_ROOM,
        error_message="no target vault has room for it (256 resources at most per vault)",
    )
