"""The store contract, part one: creating workflows by command id, claiming them, and fencing by lease."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from contract_helpers import LEASE, ago, claimed, created, event, later, new, stale, step, succeeded

from orchestrator.store import Claim, LeaseLost, Verdict, WorkflowStatus, WorkflowStore


async def test_a_command_id_names_one_workflow_new_then_duplicate_or_conflict(store: WorkflowStore) -> None:
    first = new("a")
    other_input = dataclasses.replace(first, input={**first.input, "vault": "other"})
    verdicts = await store.create_workflows_if_absent([first, new("b"), new("a")])
    assert [v.verdict for v in verdicts] == [Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE]
    assert verdicts[0].workflow_id == verdicts[2].workflow_id == first.id
    [again, conflict] = await store.create_workflows_if_absent([new("a"), other_input])
    assert (again.verdict, conflict.verdict) == (Verdict.DUPLICATE, Verdict.CONFLICT)
    assert conflict.workflow_id == first.id
    wf = await store.workflow_by_command("a")
    assert wf is not None and wf.status is WorkflowStatus.PENDING and wf.input == first.input


async def test_claims_take_the_earliest_due_first_and_skip_those_not_due(store: WorkflowStore) -> None:
    a, b, c = await created(store, "a", "b", "c")
    claims = {wf.id: wf.claim for wf in await store.claim_due("w", LEASE, 10)}
    await store.release_until(claims[a], {}, ago(1))
    await store.release_until(claims[b], {}, ago(60))
    await store.release_until(claims[c], {}, later())
    [first] = await store.claim_due("w", LEASE, 1)
    [second] = await store.claim_due("w", LEASE, 10)
    assert (first.id, second.id) == (b, a)
    assert await store.claim_due("w", LEASE, 10) == []


async def test_a_claimed_workflow_is_leased_to_one_owner_with_a_new_epoch(store: WorkflowStore) -> None:
    wf = await claimed(store, "a", owner="first")
    assert (wf.lease_owner, wf.status, wf.attempts) == ("first", WorkflowStatus.RUNNING, 1)
    assert await store.claim_due("second", LEASE, 10) == []  # the lease is held
    await store.hand_back([wf.claim])
    [again] = await store.claim_due("second", LEASE, 10)
    assert (again.lease_owner, again.lease_epoch) == ("second", wf.lease_epoch + 1)


async def test_writes_of_a_run_whose_lease_passed_on_are_refused(store: WorkflowStore) -> None:
    await created(store, "a")
    [old] = await store.claim_due("first", 0.0, 10)  # a lease that expires at once
    await asyncio.sleep(0.01)
    [new_run] = await store.claim_due("first", LEASE, 10)
    assert new_run.lease_epoch == old.lease_epoch + 1
    for write in (
        store.save_state(old.claim, {"x": 1}, LEASE),
        store.release_until(old.claim, {}, later()),
        store.release_after_error(old.claim, later(), "boom"),
        store.finish_with_event(old.claim, {}, succeeded(), event()),
        store.lock_resource(old.claim, "p", "r", "server-1"),
        store.cancel_children(old.claim),
    ):
        with pytest.raises(LeaseLost):
            await write
    await store.save_state(new_run.claim, {"x": 2}, LEASE)
    stored = await store.get_workflow(new_run.id)
    assert stored is not None and stored.state == {"x": 2}
    assert await store.renew_leases([old.claim], LEASE) == await store.renew_leases([], LEASE)


async def test_renewing_keeps_held_leases_and_tells_which_were_asked_to_cancel(store: WorkflowStore) -> None:
    a = await claimed(store, "a")
    b = await claimed(store, "b")
    await store.request_cancel("b")
    renewed = await store.renew_leases([a.claim, b.claim, stale(a.claim)], LEASE)
    assert (renewed.kept, renewed.cancelling) == ({a.id, b.id}, {b.id})
    await store.finish_with_event(a.claim, {}, succeeded(), None)
    assert (await store.renew_leases([a.claim], LEASE)).kept == set()


async def test_a_release_gives_the_workflow_back_until_its_time(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    await store.release_until(wf.claim, {"phase": "wait"}, later(), steps=[step()], events=[event()])
    assert await store.claim_due("w", LEASE, 10) == []
    stored = await store.get_workflow(wf.id)
    assert stored is not None and (stored.state, stored.lease_owner) == ({"phase": "wait"}, None)
    assert [s.step.operation for s in await store.steps_of(wf.id)] == ["CreateCheckpoint"]
    assert len(await store.events_of(wf.id)) == 1
    with pytest.raises(LeaseLost):  # given back: the run holds nothing any more
        await store.save_state(wf.claim, {}, LEASE)


async def test_a_release_after_an_error_counts_the_failed_run(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    await store.release_after_error(wf.claim, ago(1), "x" * 2000)
    [again] = await store.claim_due("w", LEASE, 10)
    assert (again.failed_runs, again.last_run_error) == (1, "x" * 1000)


async def test_a_cancel_the_run_did_not_see_makes_its_release_due_at_once(store: WorkflowStore) -> None:
    unseen = await claimed(store, "unseen")
    seen = await claimed(store, "seen")
    await store.request_cancel("unseen")
    await store.request_cancel("seen")
    await store.release_until(unseen.claim, {}, later(), cancel_seen=False)
    await store.release_until(seen.claim, {}, later(), cancel_seen=True)
    assert [wf.id for wf in await store.claim_due("w", LEASE, 10)] == [unseen.id]


async def test_finishing_writes_the_final_state_and_exactly_one_event(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    final = event("final")
    await store.finish_with_event(wf.claim, {"done": True}, succeeded({"n": 1}), final, steps=[step("Last")])
    with pytest.raises(LeaseLost):
        await store.finish_with_event(wf.claim, {}, succeeded(), event("again"))
    stored = await store.get_workflow(wf.id)
    assert stored is not None and stored.finished_at is not None
    assert (stored.status, stored.result, stored.state) == (
        WorkflowStatus.SUCCEEDED,
        {"n": 1},
        {"done": True},
    )
    assert await store.events_of(wf.id) == [final]
    assert [s.step.operation for s in await store.steps_of(wf.id)] == ["Last"]
    assert await store.claim_due("w", LEASE, 10) == []


async def test_an_event_id_is_written_once(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    progress = event("progress")
    await store.save_state(wf.claim, {}, LEASE, events=[progress])
    await store.finish_with_event(wf.claim, {}, succeeded(), progress)
    assert await store.events_of(wf.id) == [progress]


async def test_a_waiter_wakes_when_a_workflow_is_created(store: WorkflowStore) -> None:
    waiter = store.listen("cbr_workflows")
    try:
        await waiter.wait(0.5)  # PostgreSQL's first wait wakes at once (it may have missed some)
        assert not await waiter.wait(0.2)
        await created(store, "a")
        assert await waiter.wait(5)
    finally:
        await waiter.close()


async def test_unknown_claims_are_neither_renewed_nor_handed_back(store: WorkflowStore) -> None:
    wf = await claimed(store, "a")
    nobody = Claim(wf.id, "someone-else", wf.lease_epoch)
    assert (await store.renew_leases([nobody], LEASE)).kept == set()
    assert await store.hand_back([nobody]) == set()
    assert await store.hand_back([wf.claim]) == {wf.id}
