"""Selection by protectables, page by page: children spawned as their share is known (pure transitions)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from orchestrator.cbr.limits import PROTECTABLE_MAX_PAGE
from orchestrator.messages import AutoVaults, FleetBackupCommand
from orchestrator.workflows import fleet
from orchestrator.workflows.base import (
    Call,
    ChildrenSpawned,
    ListProtectables,
    ProtectablesPage,
    ReadFleet,
    Resume,
    SpawnChildren,
    Transition,
)
from orchestrator.workflows.fleet_packing import ChildPlan, Target, plan_auto
from orchestrator.workflows.fleet_stream import Packer, Stream

P, R = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-west-101"
WID = uuid.UUID(int=7)
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SERVER = "OS::Nova::Server"
SIZES = (0, 10, 100, 500, 500, 900, 1500, 20_000_000)  # exact fills, alone in a vault, larger than any


def command(**over: Any) -> FleetBackupCommand:
    select = {"protectables": {"types": ["server"]}}
    raw = {"command_id": "f1", "project_id": P, "region": R, "select": select}
    return FleetBackupCommand.model_validate({**raw, **over})


def step(st: fleet.FleetState, obs: object) -> tuple[fleet.FleetState, Transition]:
    """One transition, the state round-tripped through JSON as the store saves it."""
    t = fleet.transition(st, obs)  # type: ignore[arg-type]
    return fleet.FleetState.model_validate_json(t.state.model_dump_json()), t


def page(first: int, n: int, bound: str | None = None) -> ProtectablesPage:
    return ProtectablesPage(tuple((f"s{i:03d}", SERVER, bound, 10) for i in range(first, first + n)))


def spawned(t: Transition) -> SpawnChildren:
    [action] = t.actions
    assert isinstance(action, SpawnChildren), t.actions
    return action


def listing(marker: str | None) -> tuple[Call]:
    return (Call(ListProtectables(P, R, "server", marker, PROTECTABLE_MAX_PAGE)),)


def shares(spawn: SpawnChildren) -> list[tuple[str, str, int]]:
    """(child number, vault name or id, resources) of each child."""
    return [
        (c.command_id[-6:], c.input["vault"].get("name") or c.input["vault"]["id"], len(c.input["resources"]))
        for c in spawn.children
    ]


def test_each_page_spawns_the_children_it_completes_and_selection_goes_on_after_them() -> None:
    st, t = step(fleet.initial_state(command(project_tasks=20), WID), Resume(T0))
    assert t.actions == listing(None)
    st, t = step(st, page(0, 50))
    vault = "fleet-00000000-server-001"
    assert shares(spawned(t)) == [("000001", vault, 20), ("000002", vault, 20)]
    assert (st.phase, st.marker, st.spawned) == ("list_protectables", "s049", 2)  # saved with them
    st, t = step(st, ChildrenSpawned(2))
    assert t.actions == listing("s049")
    st, t = step(st, page(50, 50))
    assert shares(spawned(t)) == [("000003", vault, 20), ("000004", vault, 20), ("000005", vault, 20)]
    st, t = step(st, ChildrenSpawned(3))
    st, t = step(st, page(100, 10))  # the last page: what is left goes into a last child
    assert shares(spawned(t)) == [("000006", vault, 10)]
    assert st.phase == "spawn"
    st, t = step(st, ChildrenSpawned(1))
    assert t.actions == (ReadFleet(),)


def test_a_fleet_resumed_from_what_a_spawn_saved_lists_the_next_page_and_spawns_no_child_again() -> None:
    st, _ = step(fleet.initial_state(command(project_tasks=20), WID), Resume(T0))
    saved, t = step(st, page(0, 50))  # the state the engine saves in the children's transaction
    first = {r["id"] for c in spawned(t).children for r in c.input["resources"]}
    st, t = step(saved, Resume(T0))  # a crash after the commit: the next run starts from it
    assert t.actions == listing("s049")
    st, t = step(st, page(50, 10))  # the last page: with the 10 left from the first, a full child
    later = spawned(t)
    assert [c.command_id[-6:] for c in later.children] == ["000003"]  # numbered after those saved
    again = [r["id"] for c in later.children for r in c.input["resources"]]
    assert not first & set(again) and len(first) + len(again) == 60
    st, t = step(st, ChildrenSpawned(1))
    assert spawned(t).children == () and st.phase == "spawn"


def test_an_existing_vault_gets_a_first_batch_at_its_page_end_then_full_children() -> None:
    st, _ = step(fleet.initial_state(command(project_tasks=20), WID), Resume(T0))
    mixed = ProtectablesPage(page(0, 45, bound="v-old").items + page(45, 5, bound="v-new").items)
    st, t = step(st, mixed)
    assert shares(spawned(t)) == [("000001", "v-old", 20), ("000002", "v-old", 20), ("000003", "v-new", 5)]
    st, t = step(st, ChildrenSpawned(3))  # v-old's 5 left wait: it has children already
    st, t = step(st, page(50, 25, bound="v-old"))
    assert shares(spawned(t)) == [("000004", "v-old", 20)]
    st, t = step(st, ChildrenSpawned(1))
    assert shares(spawned(t)) == [("000005", "v-old", 10)]


def test_packed_page_by_page_the_children_are_those_packed_all_at_once() -> None:
    rng = random.Random(12)
    types = ("OS::Nova::Server", "OS::Cinder::Volume")
    chosen = [Target(P, R, f"r{i:04d}", types[i % 2], None, rng.choice(SIZES)) for i in range(1_000)]
    auto = AutoVaults(size_gb=1_000)
    for child_size in (256, 100, 7):
        packer = Packer(Stream(), "tag", auto, child_size)
        for start in range(0, len(chosen), PROTECTABLE_MAX_PAGE):
            packer.take(chosen[start : start + PROTECTABLE_MAX_PAGE])
            packer.end_page()
        packer.flush()
        whole = plan_auto(chosen, "tag", auto, child_size)
        assert sorted(map(content, packer.children)) == sorted(map(content, whole.children))
        assert sorted(packer.unplaced, key=str) == sorted(whole.unplaced, key=str)


def content(child: ChildPlan) -> tuple[object, ...]:
    """A child but for ``shares_new_vault`` (set from a vault's first child on when streamed)."""
    return (repr(child.vault), tuple(sorted(t.resource_id for t in child.resources)))


def test_a_page_leaves_the_state_it_was_given_as_it_was() -> None:
    st, _ = step(fleet.initial_state(command(project_tasks=20), WID), Resume(T0))
    st, _ = step(st, page(0, 50))  # 10 packed, not in a child yet: held in the stream
    before = st.model_dump()
    after, _ = step(st, page(50, 50))
    assert st.model_dump() == before  # its copy shares the packed resources (immutable), not their lists
    assert after.stream.model_dump() != before["stream"]
