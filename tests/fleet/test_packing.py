"""Packing a fleet into children: ≤256 resources per vault, bound resources stay, deterministic."""

from __future__ import annotations

from orchestrator.fleet.packing import NO_ROOM, Target, plan_auto, plan_into
from orchestrator.messages import AutoVaults

P, R = "a" * 32, "r1"


def targets(n: int, prefix: str = "s", rtype: str = "OS::Nova::Server") -> list[Target]:
    return [Target(P, R, f"{prefix}{i:05d}", rtype) for i in range(n)]


def test_auto_packing_fills_vaults_of_at_most_256_per_type() -> None:
    plan = plan_auto(targets(600) + targets(10, "d", "OS::Cinder::Volume"), "f1", AutoVaults())
    sizes = [(c.vault.name, c.vault.object_type, len(c.resources)) for c in plan.children]
    assert sizes == [
        ("fleet-f1-disk-001", "disk", 10),
        ("fleet-f1-server-001", "server", 256),
        ("fleet-f1-server-002", "server", 256),
        ("fleet-f1-server-003", "server", 88),
    ]
    every = [t.resource_id for c in plan.children for t in c.resources]
    assert len(every) == len(set(every)) == 610


def test_auto_packing_is_deterministic_whatever_the_order() -> None:
    chosen = targets(300)
    assert plan_auto(chosen, "f", AutoVaults()) == plan_auto(list(reversed(chosen)), "f", AutoVaults())


def test_resources_already_bound_are_backed_up_in_their_vault() -> None:
    bound = [Target(P, R, f"b{i}", bound_vault="v-old") for i in range(3)]
    plan = plan_auto(bound + targets(2), "f", AutoVaults(name_prefix="night"))
    assert [(c.vault.vault_id, c.vault.name, len(c.resources)) for c in plan.children] == [
        ("v-old", None, 3),
        (None, "night-f-server-001", 2),
    ]


def test_given_vaults_keep_their_members_fill_free_room_and_report_the_rest() -> None:
    full = [f"x{i}" for i in range(255)]
    other_full = ["s00002"] + [f"y{i}" for i in range(255)]
    plan = plan_into([*targets(3), Target(P, R, "x0")], {"v1": full, "v2": other_full})
    placed = {c.vault.vault_id: sorted(t.resource_id for t in c.resources) for c in plan.children}
    assert placed == {"v1": ["s00000", "x0"], "v2": ["s00002"]}
    assert [(u.resource_id, u.status, u.error_code) for u in plan.unplaced] == [
        ("s00001", "skipped", NO_ROOM)
    ]
