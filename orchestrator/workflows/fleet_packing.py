"""Packing a fleet's resources into vaults and child backups.

A vault holds at most 256 resources, and resources whose sizes add up to at most its capacity; a child is
one checkpoint in one vault, of at most ``child_size`` resources (the fleet's ``project_tasks`` when below
256, so that a child always fits under the project's cap of backup tasks). A vault, created for the
fleet or existing, with more than that is backed up in several children. A vault created for the fleet
holds whole children, as many as fit; they run one at a time (``shares_new_vault``), so that the first
creates it and the others find it by name instead of racing to create it twice.

Pure and deterministic (the same selection gives the same children, so a re-planned fleet after a crash
creates no second child). Resources already bound to a vault are backed up in it; the rest go into the
target vaults with room, or into vaults created by name for this fleet. A resource whose size is not known
counts as 0 GB (CBR refuses what does not fit).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.cbr.limits import VAULT_MAX_GB, VAULT_MAX_RESOURCES
from orchestrator.messages import AutoVaults, ResourceResult

OBJECT_TYPES = {"OS::Nova::Server": "server", "OS::Cinder::Volume": "disk", "OS::Sfs::Turbo": "turbo"}
RESOURCE_TYPES = {v: k for k, v in OBJECT_TYPES.items()}
NO_ROOM = "orchestrator.no_vault_capacity"
TOO_LARGE = "orchestrator.larger_than_any_vault"


@dataclass(frozen=True, order=True)
class Target:
    """A selected resource; ``bound_vault`` when CBR says it is already in a vault; ``size_gb`` as
    ``list_protectable`` gives it (None: not known)."""

    project_id: str
    region: str
    resource_id: str
    resource_type: str = "OS::Nova::Server"
    bound_vault: str | None = None
    size_gb: int | None = None

    @property
    def gb(self) -> int:
        return self.size_gb or 0


@dataclass(frozen=True)
class VaultChoice:
    """By id (an existing vault), or by name with the object type and size to create it with."""

    vault_id: str | None = None
    name: str | None = None
    object_type: str = "server"
    size_gb: int | None = None


@dataclass(frozen=True)
class ChildPlan:
    project_id: str
    region: str
    vault: VaultChoice
    resources: tuple[Target, ...]
    shares_new_vault: bool = False  # one of several children of a vault created by name


@dataclass(frozen=True)
class Plan:
    children: tuple[ChildPlan, ...]
    unplaced: tuple[ResourceResult, ...] = ()


@dataclass(frozen=True)
class Room:
    """What a target vault can still take: resources, and GB when its capacity is known."""

    resources: int
    gb: float | None = None

    def fits(self, t: Target) -> bool:
        return self.resources > 0 and (self.gb is None or t.gb <= self.gb)

    def minus(self, t: Target) -> Room:
        return Room(self.resources - 1, None if self.gb is None else self.gb - t.gb)


def chunks(items: list[Target], size: int = VAULT_MAX_RESOURCES) -> Iterable[tuple[Target, ...]]:
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


def plan_auto(
    selected: Iterable[Target], fleet_tag: str, auto: AutoVaults, child_size: int = VAULT_MAX_RESOURCES
) -> Plan:
    """Bound resources into their vaults; the others into new vaults of whole children of ``child_size``
    (≤ 256 resources) and ≤ ``size_gb`` GB per project and type (one larger than ``size_gb`` alone in a
    vault sized to it)."""
    bound, free = _split_bound(selected)
    children = _bound_children(bound, child_size)
    unplaced: list[ResourceResult] = []
    groups: dict[tuple[str, str, str], list[Target]] = defaultdict(list)
    for t in free:
        if t.gb > VAULT_MAX_GB:
            unplaced.append(too_large(t))
            continue
        groups[(t.project_id, t.region, OBJECT_TYPES.get(t.resource_type, "server"))].append(t)
    for (project, region, object_type), members in sorted(groups.items()):
        for n, vault in enumerate(_fill_vaults(members, auto.size_gb, new_vault_holds(child_size)), start=1):
            size = max(auto.size_gb, sum(t.gb for t in vault))
            name = f"{auto.name_prefix}-{fleet_tag}-{object_type}-{n:03d}"
            choice = VaultChoice(name=name, object_type=object_type, size_gb=size)
            shared = len(vault) > child_size
            parts = chunks(vault, child_size)
            children += [ChildPlan(project, region, choice, part, shared) for part in parts]
    return Plan(tuple(children), tuple(unplaced))


def new_vault_holds(child_size: int) -> int:
    """A vault made for the fleet holds whole children (children of a project run one full one at a time,
    so a partial child would leave project capacity unused): as many as fit in 256."""
    return child_size * max(1, VAULT_MAX_RESOURCES // child_size)


def _fill_vaults(members: list[Target], size_gb: int, most: int) -> Iterable[list[Target]]:
    """In order: a vault is closed when the next resource would make it hold more than ``most`` resources
    or more than ``size_gb`` GB; a resource larger than ``size_gb`` fills a vault alone."""
    vault: list[Target] = []
    used = 0
    for t in members:
        if vault and (len(vault) == most or used + t.gb > size_gb):
            yield vault
            vault, used = [], 0
        vault.append(t)
        used += t.gb
    if vault:
        yield vault


def plan_into(
    selected: Iterable[Target],
    vaults: dict[str, list[str]],
    free_gb: dict[str, float] | None = None,
    child_size: int = VAULT_MAX_RESOURCES,
) -> Plan:
    """Into the given vaults (id → resources bound now; ``free_gb``: GB free where known): bound ones
    stay, others fill the free room (resources and GB), in order."""
    free_gb = free_gb or {}
    members: dict[str, list[Target]] = {vid: [] for vid in vaults}
    where = {rid: vid for vid, ids in vaults.items() for rid in ids}
    room = {vid: Room(VAULT_MAX_RESOURCES - len(ids), free_gb.get(vid)) for vid, ids in vaults.items()}
    unplaced = []
    for t in sorted(set(selected)):
        vid = where.get(t.resource_id) or next((v for v in vaults if room[v].fits(t)), None)
        if vid is None:
            unplaced.append(_no_room(t, room))
            continue
        if t.resource_id not in where:
            room[vid] = room[vid].minus(t)
        members[vid].append(t)
    children = [
        ChildPlan(ts[0].project_id, ts[0].region, VaultChoice(vault_id=vid), chunk)
        for vid, ts in members.items()
        if ts
        for chunk in chunks(ts, child_size)
    ]
    return Plan(tuple(children), tuple(unplaced))


def _split_bound(selected: Iterable[Target]) -> tuple[list[Target], list[Target]]:
    ordered = sorted(set(selected))
    return [t for t in ordered if t.bound_vault], [t for t in ordered if not t.bound_vault]


def _bound_children(bound: list[Target], child_size: int) -> list[ChildPlan]:
    by_vault: dict[tuple[str, str, str], list[Target]] = defaultdict(list)
    for t in bound:
        by_vault[(t.project_id, t.region, t.bound_vault or "")].append(t)
    return [
        ChildPlan(project, region, VaultChoice(vault_id=vid), chunk)
        for (project, region, vid), members in sorted(by_vault.items())
        for chunk in chunks(members, child_size)
    ]


def _skipped(t: Target, code: str, message: str) -> ResourceResult:
    return ResourceResult(
        resource_id=t.resource_id,
        resource_type=t.resource_type,
        status="skipped",
        error_code=code,
        error_message=message,
    )


def _no_room(t: Target, room: dict[str, Room]) -> ResourceResult:
    with_slots = [r.gb or 0.0 for r in room.values() if r.resources > 0]  # each with its free GB known
    if with_slots:
        why = f"no target vault has room for its {t.gb} GB (the most free: {max(with_slots):.0f} GB)"
    else:
        why = "no target vault has room for it (256 resources at most per vault)"
    return _skipped(t, NO_ROOM, why)


def too_large(t: Target) -> ResourceResult:
    why = f"its {t.gb} GB exceed the largest vault CBR creates ({VAULT_MAX_GB} GB)"
    return _skipped(t, TOO_LARGE, why)
