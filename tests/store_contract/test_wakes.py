"""The store contract, wakes: what a workflow waits for happened (its task ended, a child ended) → due now,
once however many wakes came, and never lost to a run that was holding it meanwhile."""

from __future__ import annotations

from contract_helpers import LEASE, child, claimed, created, later, succeeded

from orchestrator.store import WorkflowStore


async def due_ids(store: WorkflowStore, owner: str = "w") -> set[str]:
    return {wf.command_id for wf in await store.claim_due(owner, LEASE, 10)}


async def test_a_sleeping_workflow_woken_is_due_at_once(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    await store.release_until(wf.claim, {}, later())
    assert await due_ids(store) == set()
    assert await store.wake([wf.id, wf.id]) == 1
    assert await due_ids(store) == {"a"}


async def test_a_wake_during_a_run_makes_its_release_due_at_once_and_a_claim_consumes_it(
    store: WorkflowStore,
) -> None:
    wf = await claimed(store, "a")
    await store.wake([wf.id])  # while its run holds it: the run may have read before the event
    await store.release_until(wf.claim, {}, later())
    [again] = await store.claim_due("w", LEASE, 10)
    assert again.id == wf.id
    await store.release_until(again.claim, {}, later())  # this run saw it all: sleeps as asked
    assert await due_ids(store) == set()


async def test_a_finished_workflow_is_not_woken(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    await store.finish_with_event(wf.claim, {}, succeeded(), None)
    assert await store.wake([wf.id]) == 0


async def test_a_child_that_ends_makes_its_fleet_due_once_however_many_end(store: WorkflowStore) -> None:
    fleet = await claimed(store, "fleet")
    await store.fleet.spawn(fleet.claim, [child("fleet", n) for n in range(3)])
    await store.release_until(fleet.claim, {}, later())
    children = await store.claim_due("w", LEASE, 10)
    assert len(children) == 3
    for wf in children[:2]:
        await store.finish_with_event(wf.claim, {}, succeeded(), None)
    [woken] = await store.claim_due("w", LEASE, 10)  # one run for both ends
    assert woken.id == fleet.id
    await store.finish_with_event(children[2].claim, {}, succeeded(), None)  # while the fleet runs
    await store.release_until(woken.claim, {}, later())
    assert await due_ids(store) == {"fleet"}  # the last end is not lost to the run that missed it


async def test_a_workflow_without_a_fleet_wakes_nothing_when_it_ends(store: WorkflowStore) -> None:
    other = await claimed(store, "other")
    await store.release_until(other.claim, {}, later())
    [wid] = await created(store, "a")
    [wf] = await store.claim_due("w", LEASE, 10)
    assert wf.id == wid
    await store.finish_with_event(wf.claim, {}, succeeded(), None)
    assert await due_ids(store) == set()
