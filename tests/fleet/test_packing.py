"""Packing a fleet into children: ≤256 resources per vault, bound resources stay, deterministic."""

from __future__ import annotations

from orchestrator.messages import AutoVaults
from orchestrator.workflows.fleet_packing import NO_ROOM, Plan, Target, plan_auto, plan_into

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


def sized(sizes: list[int]) -> list[Target]:
    return [Target(P, R, f"s{i:05d}", size_gb=gb) for i, gb in enumerate(sizes)]


def vault_contents(plan: Plan) -> dict[str, list[Target]]:
    held: dict[str, list[Target]] = {}
    for c in plan.children:
        held.setdefault(c.vault.name or c.vault.vault_id or "", []).extend(c.resources)
    return held


def test_auto_vaults_hold_resources_whose_sizes_add_up_to_at_most_their_size() -> None:
    sizes = [(i * 37) % 500 + 40 for i in range(600)]  # 40 to 539 GB, 173,400 GB in all
    plan = plan_auto(sized(sizes), "f", AutoVaults(size_gb=10_240))
    held = vault_contents(plan)
    assert all(c.vault.size_gb == 10_240 for c in plan.children)
    assert all(sum(t.gb for t in ts) <= 10_240 for ts in held.values())
    assert sum(len(ts) for ts in held.values()) == 600 and not plan.unplaced
    assert len(held) == 18  # 173,400 / 10,240 = 16.9: filled in order, little room is left over


def test_children_hold_at_most_child_size_and_vaults_made_for_them_hold_whole_children() -> None:
    bound = [Target(P, R, f"b{i:03d}", bound_vault="v-old") for i in range(250)]
    plan = plan_auto(bound + targets(300), "f", AutoVaults(), child_size=100)
    assert [
        (c.vault.vault_id or c.vault.name, len(c.resources), c.shares_new_vault) for c in plan.children
    ] == [
        ("v-old", 100, False),  # an existing vault: backed up in several children
        ("v-old", 100, False),
        ("v-old", 50, False),
        ("fleet-f-server-001", 100, True),  # a vault made for the fleet: two whole children of 100
        ("fleet-f-server-001", 100, True),
        ("fleet-f-server-002", 100, False),  # one child: nothing to share
    ]
    small = plan_auto(targets(600), "f", AutoVaults(), child_size=20)
    assert [len(ts) for ts in vault_contents(small).values()] == [240, 240, 120]  # 12 children of 20 in 256
    assert {len(c.resources) for c in small.children} == {20}
    large = plan_auto(targets(600), "f", AutoVaults(), child_size=200)
    assert [len(ts) for ts in vault_contents(large).values()] == [200, 200, 200]  # one child each
    into = plan_into(targets(300), {"v1": []}, child_size=100)
    assert [len(c.resources) for c in into.children] == [100, 100, 56]
    assert len(into.unplaced) == 44


def test_given_vaults_take_resources_up_to_their_free_gb_when_known() -> None:
    chosen = sized([60, 30, 30, 500])
    plan = plan_into(chosen, {"v1": [], "v2": []}, {"v1": 100.0})  # v2: capacity not known
    placed = {c.vault.vault_id: [t.resource_id for t in c.resources] for c in plan.children}
    assert placed == {"v1": ["s00000", "s00001"], "v2": ["s00002", "s00003"]}
    plan = plan_into(chosen, {"v1": []}, {"v1": 100.0})
    assert [(u.resource_id, u.error_code) for u in plan.unplaced] == [
        ("s00002", NO_ROOM),
        ("s00003", NO_ROOM),
    ]
    assert "500 GB (the most free: 10 GB)" in (plan.unplaced[1].error_message or "")
