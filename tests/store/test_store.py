from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from store_rows import create_one

from orchestrator.store import (
    OUTBOX_CHANNEL,
    Finish,
    LeaseLost,
    NewWorkflow,
    OutboxEvent,
    Step,
    StepOutcome,
    Store,
    WorkflowStatus,
)


def new(command_id: str = "c1", kind: str = "backup") -> NewWorkflow:
    return NewWorkflow(
        id=uuid.uuid4(),
        command_id=command_id,
        kind=kind,
        project_id="p",
        region="r",
        input={"command_id": command_id},
        state={"phase": "start"},
    )


def step(op: str = "create_checkpoint") -> Step:
    now = datetime.now(UTC)
    return Step(operation=op, outcome=StepOutcome.OK, started_at=now, finished_at=now, request={"a": 1})


def event(eid: str = "e1") -> OutboxEvent:
    return OutboxEvent(event_id=eid, routing_key="workflow.backup.succeeded", body={"id": eid}, reply_to="rq")


async def test_create_if_absent_is_idempotent(store: Store) -> None:
    first = new()
    wid, created = await create_one(store, first)
    again, created_again = await create_one(store, new())
    assert (wid, created) == (first.id, True)
    assert (again, created_again) == (first.id, False)


async def test_concurrent_duplicates_make_one_workflow(store: Store) -> None:
    results = await asyncio.gather(*(create_one(store, new("same")) for _ in range(10)))
    assert len({wid for wid, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_claim_is_exclusive_between_workers(store: Store) -> None:
    for i in range(20):
        await create_one(store, new(f"c{i}"))
    a, b = await asyncio.gather(store.claim_due("a", 30, 15), store.claim_due("b", 30, 15))
    ids_a, ids_b = {w.id for w in a}, {w.id for w in b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 20
    assert all(w.status is WorkflowStatus.RUNNING and w.attempts == 1 for w in a)


async def test_expired_lease_is_taken_over_and_old_owner_loses(store: Store) -> None:
    wid, _ = await create_one(store, new())
    [claimed] = await store.claim_due("dead", 0.2, 10)
    assert await store.claim_due("alive", 30, 10) == []
    await asyncio.sleep(0.3)
    [taken] = await store.claim_due("alive", 30, 10)
    assert taken.id == wid
    assert taken.attempts == 2
    assert taken.lease_epoch == claimed.lease_epoch + 1
    with pytest.raises(LeaseLost):
        await store.save_state(claimed.claim, {"phase": "x"}, 30)
    assert await store.heartbeat([claimed.claim], 30) == set()
    assert await store.heartbeat([taken.claim], 30) == {wid}


async def test_a_later_claim_by_the_same_owner_fences_the_earlier_run(store: Store) -> None:
    """Owners can share a name (a restarted worker, a fixed name in a test): the epoch tells runs apart."""
    wid, _ = await create_one(store, new())
    [first] = await store.claim_due("w", 0.1, 10)
    await asyncio.sleep(0.15)
    [second] = await store.claim_due("w", 30, 10)
    assert second.claim.owner == first.claim.owner
    with pytest.raises(LeaseLost):
        await store.save_state(first.claim, {"phase": "stale"}, 30)
    with pytest.raises(LeaseLost):
        await store.release_until(first.claim, {"phase": "stale"}, datetime.now(UTC))
    assert await store.heartbeat([first.claim], 30) == set()
    await store.save_state(second.claim, {"phase": "fresh"}, 30)
    wf = await store.get_workflow(wid)
    assert wf is not None and wf.state == {"phase": "fresh"}


async def test_handed_back_leases_are_claimable_at_once(store: Store) -> None:
    wid, _ = await create_one(store, new())
    [claimed] = await store.claim_due("stopping", 30, 10)
    assert await store.claim_due("other", 30, 10) == []
    assert await store.hand_back([claimed.claim]) == {wid}
    [taken] = await store.claim_due("other", 30, 10)
    assert taken.id == wid
    assert taken.crashed_runs == 1  # a handed-back run is not counted as crashed
    with pytest.raises(LeaseLost):
        await store.save_state(claimed.claim, {}, 30)


async def test_runs_that_do_not_give_the_workflow_back_are_counted(store: Store) -> None:
    wid, _ = await create_one(store, new())
    [one] = await store.claim_due("w", 0.05, 10)
    await asyncio.sleep(0.1)  # died without a word
    [two] = await store.claim_due("w", 30, 10)
    assert two.crashed_runs == 2
    await store.release_after_error(two.claim, datetime.now(UTC), "TypeError: boom")
    [three] = await store.claim_due("w", 30, 10)  # the failed run is counted as failed, not as crashed
    assert (three.crashed_runs, three.failed_runs, three.last_run_error) == (2, 1, "TypeError: boom")
    await store.release_until(three.claim, {}, datetime.now(UTC))
    [four] = await store.claim_due("w", 30, 10)
    assert (four.crashed_runs, four.failed_runs, four.last_run_error) == (1, 0, None)
    assert one.id == wid


async def test_release_until_schedules_the_next_run(store: Store) -> None:
    wid, _ = await create_one(store, new())
    [wf] = await store.claim_due("w", 30, 10)
    later = datetime.now(UTC) + timedelta(seconds=0.3)
    await store.release_until(wf.claim, {"phase": "poll"}, later, steps=[step()])
    assert await store.claim_due("w", 30, 10) == []
    await asyncio.sleep(0.35)
    [again] = await store.claim_due("w", 30, 10)
    assert again.state == {"phase": "poll"}
    [recorded] = await store.steps_of(wid)
    assert recorded.worker == "w"
    assert recorded.step.request == {"a": 1}


async def test_finish_writes_state_event_and_releases_locks_together(store: Store) -> None:
    wid, _ = await create_one(store, new())
    [claimed] = await store.claim_due("w", 30, 10)
    assert await store.lock_resource(claimed.claim, "p", "r", "srv")
    finish = Finish(WorkflowStatus.SUCCEEDED, {"resources": []})
    await store.finish_with_event(claimed.claim, {"phase": "done"}, finish, event(), steps=[step()])
    wf = await store.get_workflow(wid)
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.finished_at is not None
    assert wf.lease_owner is None
    assert [e.event_id for e in await store.events_of(wid)] == ["e1"]
    await create_one(store, new("c2"))
    [other] = await store.claim_due("w", 30, 10)
    assert await store.lock_resource(other.claim, "p", "r", "srv")
    with pytest.raises(LeaseLost):
        await store.finish_with_event(claimed.claim, {}, finish, event("e2"))
    assert len(await store.events_of(wid)) == 1


def test_finish_needs_a_final_status() -> None:
    with pytest.raises(ValueError, match="final"):
        Finish(WorkflowStatus.RUNNING, {})


async def test_resource_lock_is_exclusive(store: Store) -> None:
    await create_one(store, new("a"))
    await create_one(store, new("b"))
    one, two = sorted((wf.claim for wf in await store.claim_due("w", 30, 10)), key=str)
    assert await store.lock_resource(one, "p", "r", "srv")
    assert await store.lock_resource(one, "p", "r", "srv")
    assert not await store.lock_resource(two, "p", "r", "srv")


async def test_outbox_batches_do_not_overlap_and_commit_marks(store: Store) -> None:
    wid, _ = await create_one(store, new())
    [wf] = await store.claim_due("w", 30, 10)
    assert wf.id == wid
    await store.save_state(wf.claim, {}, 30, events=[event(f"e{i}") for i in range(4)])
    async with store.outbox_batch(2) as first:
        async with store.outbox_batch(10) as second:
            assert {p.event.event_id for p in first.events}.isdisjoint(
                p.event.event_id for p in second.events
            )
            assert len(first.events) + len(second.events) == 4
            for p in second.events:
                second.mark(p)
                second.mark_replied(p)  # events with a reply_to: done once both are published
        first.mark(first.events[0])
        first.mark_replied(first.events[0])
    async with store.outbox_batch(10) as rest:
        assert len(rest.events) == 1
        assert rest.events[0].event.reply_to == "rq"


async def test_listener_wakes_on_outbox_insert_and_falls_back_to_timeout(store: Store) -> None:
    listener = store.listen(OUTBOX_CHANNEL)
    try:
        await listener.wait(0.01)  # connects; first wait may return True (missed-notification guard)
        assert await listener.wait(0.05) is False
        await create_one(store, new())
        [wf] = await store.claim_due("w", 30, 10)
        waiter = asyncio.create_task(listener.wait(5))
        await asyncio.sleep(0.05)
        await store.save_state(wf.claim, {}, 30, events=[event()])
        assert await waiter is True
    finally:
        await listener.close()


async def test_status_views_find_by_workflow_or_command_id(store: Store, dsn: str) -> None:
    from orchestrator.store import list_workflows, workflow_status

    wid, _ = await create_one(store, new("cmd-x"))
    [wf] = await store.claim_due("w", 30, 10)
    await store.save_state(wf.claim, {}, 30, steps=[step()], events=[event()])
    by_command = await workflow_status(dsn, "cmd-x")
    by_id = await workflow_status(dsn, str(wid))
    assert by_command is not None
    assert by_id is not None
    assert by_command.workflow.id == by_id.workflow.id == wid
    assert [s.step.operation for s in by_id.steps] == ["create_checkpoint"]
    assert [e.event_id for e in by_id.events] == ["e1"]
    assert await workflow_status(dsn, "nope") is None
    assert [w.id for w in await list_workflows(dsn, WorkflowStatus.RUNNING)] == [wid]
