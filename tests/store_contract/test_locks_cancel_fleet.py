"""The store contract, part two: resource locks, admission under caps, cancel requests, a fleet's children."""

from __future__ import annotations

import pytest
from contract_helpers import LEASE, child, claimed, created, later, succeeded

from orchestrator.messages import FleetCounts, ResourceResult
from orchestrator.store import (
    AdmissionCap,
    CancelVerdict,
    ChildConflict,
    Finish,
    LeaseLost,
    ParentSave,
    WorkflowStatus,
    WorkflowStore,
)


async def test_a_resource_lock_has_one_holder_until_unlocked_or_finished(store: WorkflowStore) -> None:
    a = await claimed(store, "a")
    b = await claimed(store, "b")
    assert await store.lock_resource(a.claim, "p", "r", "server-1")
    assert await store.lock_resource(a.claim, "p", "r", "server-1")  # asking again: still held
    assert not await store.lock_resource(b.claim, "p", "r", "server-1")
    assert await store.lock_resource(b.claim, "p", "other-region", "server-1")
    await store.unlock_resource(b.claim, "p", "r", "server-1")  # not its lock: nothing happens
    assert not await store.lock_resource(b.claim, "p", "r", "server-1")
    await store.unlock_resource(a.claim, "p", "r", "server-1")
    assert await store.lock_resource(b.claim, "p", "r", "server-1")
    await store.finish_with_event(b.claim, {}, succeeded(), None)
    assert await store.lock_resource(a.claim, "p", "r", "server-1")


async def test_admission_takes_every_lock_or_none(store: WorkflowStore) -> None:
    a, b, c = [await claimed(store, name) for name in ("a", "b", "c")]
    assert await store.admission.admit(a.claim, "p", "r", ["x", "y"])
    assert not await store.admission.admit(b.claim, "p", "r", ["y", "z"])  # y is held: z not kept either
    assert await store.admission.admit(c.claim, "p", "r", ["z", "w"])
    assert await store.admission.admit(a.claim, "p", "r", ["x"])  # the single lock, batched: held already
    assert not await store.admission.admit(b.claim, "p", "r", ["x"])


async def test_a_cap_admits_at_most_its_limit_of_holders_until_one_ends(store: WorkflowStore) -> None:
    cap = [AdmissionCap("vault:v", 2)]
    a, b, c = [await claimed(store, name) for name in ("a", "b", "c")]
    assert await store.admission.admit(a.claim, "p", "r", [], cap)
    assert await store.admission.admit(b.claim, "p", "r", [], cap)
    assert not await store.admission.admit(c.claim, "p", "r", [], cap)
    assert await store.admission.admit(a.claim, "p", "r", [], cap)  # asking again: still holds its slot
    assert await store.admission.slots_held() == {"vault:v": 2}
    await store.finish_with_event(a.claim, {}, succeeded(), None)
    assert await store.admission.admit(c.claim, "p", "r", [], cap)
    assert await store.admission.slots_held() == {"vault:v": 2}


async def test_a_per_resource_cap_counts_the_resources_not_backed_up(store: WorkflowStore) -> None:
    cap = [AdmissionCap("project:p", 3, per_resource=True)]
    a, b = await claimed(store, "a"), await claimed(store, "b")  # one resource each (their commands')
    await store.save_state(a.claim, {"pending": ["1", "2"], "ended": []}, LEASE)
    assert await store.admission.admit(a.claim, "p", "r", ["1", "2"], cap)
    assert await store.admission.tasks_held("project:p", 3) == 2
    assert not await store.admission.admit(b.claim, "p", "r", ["3", "4"], cap)  # 2 + 2 > 3
    assert await store.admission.admit(b.claim, "p", "r", ["3"], cap)
    assert await store.admission.tasks_held("project:p", 3) == 3
    await store.save_state(a.claim, {"pending": ["1", "2"], "ended": ["1"]}, LEASE)
    assert await store.admission.tasks_held("project:p", 3) == 2


async def test_admission_needs_the_lease(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    await store.hand_back([wf.claim])
    with pytest.raises(LeaseLost):
        await store.admission.admit(wf.claim, "p", "r", ["x", "y"], [AdmissionCap("s", 1)])
    assert not await store.admission.admit(wf.claim, "p", "r", ["x"])  # the batched lock takes nothing
    assert await store.admission.slots_held() == {}


async def test_a_cancel_request_is_recorded_once_and_makes_the_workflow_due(store: WorkflowStore) -> None:
    [wid] = await created(store, "a")
    [wf] = await store.claim_due("w", LEASE, 10)
    await store.release_until(wf.claim, {}, later())
    assert await store.claim_due("w", LEASE, 10) == []
    first = await store.request_cancel("a")
    assert (first.verdict, first.workflow_id, first.command_id) == (CancelVerdict.REQUESTED, wid, "a")
    again = await store.request_cancel(str(wid))
    assert again.verdict is CancelVerdict.ALREADY_REQUESTED and again.requested_at == first.requested_at
    [due] = await store.claim_due("w", LEASE, 10)
    assert due.id == wid and due.cancel_requested_at == first.requested_at
    assert (await store.request_cancel("nope")).verdict is CancelVerdict.NOT_FOUND


async def test_cancelling_a_finished_workflow_says_how_it_ended(store: WorkflowStore) -> None:
    done = await claimed(store, "done")
    await store.finish_with_event(done.claim, {}, succeeded(), None)
    stopped = await claimed(store, "stopped")
    await store.finish_with_event(stopped.claim, {}, Finish(WorkflowStatus.CANCELLED, {}), None)
    ended = await store.request_cancel("done")
    assert (ended.verdict, ended.status) == (CancelVerdict.ALREADY_ENDED, WorkflowStatus.SUCCEEDED)
    assert (await store.request_cancel("stopped")).verdict is CancelVerdict.ALREADY_CANCELLED


async def test_children_are_spawned_once_and_cancelled_with_their_fleet(store: WorkflowStore) -> None:
    fleet = await claimed(store, "fleet")
    children = [child("fleet", n) for n in (1, 0, 2)]
    assert await store.fleet.spawn(fleet.claim, children) == 3
    assert await store.fleet.spawn(fleet.claim, children) == 3  # again: nothing new
    spawned = await store.fleet.children_of(fleet.id)
    assert [c.command_id for c in spawned] == ["fleet/child-0", "fleet/child-1", "fleet/child-2"]
    assert {c.parent_id for c in spawned} == {fleet.id}
    first = next(wf for wf in await store.claim_due("w", LEASE, 10) if wf.command_id == "fleet/child-0")
    await store.finish_with_event(first.claim, {}, succeeded(), None)
    assert await store.cancel_children(fleet.claim) == 2  # the unfinished ones
    asked = [c for c in await store.fleet.children_of(fleet.id) if c.cancel_requested_at is not None]
    assert sorted(c.command_id for c in asked) == ["fleet/child-1", "fleet/child-2"]


async def test_children_spawned_with_the_fleets_state_save_both_or_neither(store: WorkflowStore) -> None:
    fleet = await claimed(store, "fleet")
    other = await claimed(store, "other")
    await store.fleet.spawn(other.claim, [child("other", 0)])
    await store.fleet.spawn(fleet.claim, [child("fleet", 0)], ParentSave({"marker": "s049"}, LEASE))
    saved = await store.get_workflow(fleet.id)
    assert saved is not None and saved.state == {"marker": "s049"}
    with pytest.raises(ChildConflict):  # a child held elsewhere: the fleet's state is not saved
        await store.fleet.spawn(fleet.claim, [child("other", 0)], ParentSave({"marker": "s099"}, LEASE))
    kept = await store.get_workflow(fleet.id)
    assert kept is not None and kept.state == {"marker": "s049"}
    await store.hand_back([fleet.claim])
    with pytest.raises(LeaseLost):
        await store.fleet.spawn(fleet.claim, [child("fleet", 1)], ParentSave({"marker": "s149"}, LEASE))
    assert [c.command_id for c in await store.fleet.children_of(fleet.id)] == ["fleet/child-0"]


async def test_a_child_id_held_by_another_workflow_is_a_conflict(store: WorkflowStore) -> None:
    fleet = await claimed(store, "fleet")
    other = await claimed(store, "other")
    [taken] = [child("other", 0)]
    await store.fleet.spawn(other.claim, [taken])  # a child of another fleet
    with pytest.raises(ChildConflict, match="other/child-0"):
        await store.fleet.spawn(fleet.claim, [child("fleet", 0), taken])
    await store.hand_back([fleet.claim])
    with pytest.raises(LeaseLost):
        await store.fleet.spawn(fleet.claim, [child("fleet", 1)])


async def test_fleet_counts_sum_the_children_running_and_final(store: WorkflowStore) -> None:
    fleet = await claimed(store, "fleet")
    await store.fleet.spawn(fleet.claim, [child("fleet", n, resources=2) for n in range(3)])
    by_name = {wf.command_id: wf for wf in await store.claim_due("w", LEASE, 10)}
    done, running = by_name["fleet/child-0"], by_name["fleet/child-1"]
    r0, r1 = [r["id"] for r in done.input["resources"]]
    results = [
        {"resource_id": r0, "status": "succeeded", "backup_id": "b", "size_gb": 5},
        {"resource_id": r1, "status": "failed", "error_code": "E", "error_message": "no"},
    ]
    await store.finish_with_event(done.claim, {}, succeeded({"resources": results}), None)
    first = running.input["resources"][0]["id"]
    state = {"admitted": True, "ended": [], "results": {first: {"resource_id": first, "status": "succeeded"}}}
    await store.save_state(running.claim, state, LEASE)
    counts = await store.fleet.counts(fleet.id)
    expected = {"total": 6, "succeeded": 2, "failed": 1, "running": 1, "waiting": 2, "children": 3}
    assert {k: getattr(counts, k) for k in expected} == expected
    assert counts.bytes_protected == 5 * 1024**3 and counts.children_final == 1
    assert isinstance(counts, FleetCounts)
    [problem] = await store.fleet.children_problems(fleet.id, 10)
    assert problem == ResourceResult(resource_id=r1, status="failed", error_code="E", error_message="no")
