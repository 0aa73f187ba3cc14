"""Requests to cancel, in the database: recorded once, the workflow made due, refused once it ended; a run
learns of them when claimed, by heartbeat and when it pauses; a fleet asks its unfinished children."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from store_rows import create_one, raw_sql

from orchestrator.store import (
    CancelVerdict,
    Claim,
    Finish,
    LeaseLost,
    NewWorkflow,
    OutboxEvent,
    Store,
    Workflow,
    WorkflowStatus,
)

LATER = timedelta(hours=1)


def new(command_id: str) -> NewWorkflow:
    return NewWorkflow(
        id=uuid.uuid4(), command_id=command_id, kind="backup", project_id="p", region="r", input={"n": 1}
    )


async def claimed(store: Store, command_id: str) -> Workflow:
    await create_one(store, new(command_id))
    [wf] = [w for w in await store.claim_due("w", 30, 100) if w.command_id == command_id]
    return wf


async def finish(store: Store, claim: Claim, status: WorkflowStatus = WorkflowStatus.SUCCEEDED) -> None:
    event = OutboxEvent(f"final-{claim.workflow_id}", f"workflow.backup.{status.value}", {"id": "x"})
    await store.finish_with_event(claim, {}, Finish(status, {"resources": []}), event)


async def current(store: Store, command_id: str) -> Workflow:
    wf = await store.status.find(command_id)
    assert wf is not None
    return wf


async def test_a_request_is_recorded_once_and_makes_the_workflow_due(store: Store) -> None:
    wf = await claimed(store, "c1")
    await store.release_until(wf.claim, {}, datetime.now(UTC) + LATER, cancel_seen=True)
    first = await store.request_cancel("c1")
    assert (first.verdict, first.workflow_id, first.command_id, first.kind) == (
        CancelVerdict.REQUESTED,
        wf.id,
        "c1",
        "backup",
    )
    assert first.accepted and first.requested_at is not None
    [again] = await store.claim_due("w", 30, 10)  # due now, not in an hour
    assert again.id == wf.id and again.cancel_requested_at == first.requested_at
    by_id = await store.request_cancel(str(wf.id))
    assert by_id.verdict is CancelVerdict.ALREADY_REQUESTED and by_id.requested_at == first.requested_at


async def test_unknown_and_ended_workflows_are_refused_and_a_cancelled_one_is_accepted(store: Store) -> None:
    for ref in ("nobody", str(uuid.uuid4())):
        unknown = await store.request_cancel(ref)
        assert (unknown.verdict, unknown.accepted, unknown.workflow_id) == (
            CancelVerdict.NOT_FOUND,
            False,
            None,
        )
    done = await claimed(store, "done")
    await finish(store, done.claim)
    ended = await store.request_cancel("done")
    assert (ended.verdict, ended.status, ended.accepted) == (
        CancelVerdict.ALREADY_ENDED,
        WorkflowStatus.SUCCEEDED,
        False,
    )
    assert (await current(store, "done")).cancel_requested_at is None  # nothing recorded on it
    stopped = await claimed(store, "stopped")
    await finish(store, stopped.claim, WorkflowStatus.CANCELLED)
    cancelled = await store.request_cancel("stopped")
    assert (cancelled.verdict, cancelled.accepted) == (CancelVerdict.ALREADY_CANCELLED, True)


async def test_a_run_learns_of_a_request_by_heartbeat(store: Store) -> None:
    wf = await claimed(store, "c1")
    assert (await store.renew_leases([wf.claim], 30)).cancelling == set()
    await store.request_cancel("c1")
    renewed = await store.renew_leases([wf.claim], 30)
    assert (renewed.kept, renewed.cancelling) == ({wf.id}, {wf.id})
    assert await store.claim_due("other", 30, 10) == []  # still leased: the run stops it itself


@pytest.mark.parametrize("with_event", [False, True])
async def test_a_request_the_run_did_not_see_makes_its_pause_end_at_once(
    store: Store, with_event: bool
) -> None:
    events = [OutboxEvent(f"progress-{uuid.uuid4()}", "workflow.backup.progress", {})] if with_event else []
    unseen = await claimed(store, "unseen")
    seen = await claimed(store, "seen")
    await store.request_cancel("unseen")
    await store.request_cancel("seen")
    later = datetime.now(UTC) + LATER
    await store.release_until(unseen.claim, {}, later, [], events, cancel_seen=False)
    await store.release_until(seen.claim, {}, later, [], [], cancel_seen=True)  # e.g. settling: sleeps on
    assert [w.command_id for w in await store.claim_due("w", 30, 10)] == ["unseen"]
    assert (await current(store, "seen")).next_run_at == later


async def test_a_cancel_racing_the_workflows_end_leaves_it_ended_once(store: Store) -> None:
    """The request waits for a finish in flight (or the finish for it): either way one final state and
    one final event, and the request says what it found."""
    for i in range(20):
        wf = await claimed(store, f"race-{i}")
        verdict, _ = await asyncio.gather(store.request_cancel(f"race-{i}"), finish(store, wf.claim))
        after = await current(store, f"race-{i}")
        assert after.status is WorkflowStatus.SUCCEEDED
        assert len(await store.events_of(wf.id)) == 1
        if verdict.verdict is CancelVerdict.ALREADY_ENDED:
            assert after.cancel_requested_at is None
        else:
            assert verdict.verdict is CancelVerdict.REQUESTED and after.cancel_requested_at is not None


async def test_a_request_waits_for_a_finish_in_flight(store: Store) -> None:
    wf = await claimed(store, "c1")
    async with raw_sql(store).acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM workflows WHERE id = $1 FOR UPDATE", wf.id)
        asking = asyncio.create_task(store.request_cancel("c1"))
        await asyncio.sleep(0.2)
        assert not asking.done()  # waits on the row
        await conn.execute(
            "UPDATE workflows SET status = 'failed', finished_at = now(), lease_owner = NULL WHERE id = $1",
            wf.id,
        )
    outcome = await asyncio.wait_for(asking, 5)
    assert (outcome.verdict, outcome.status) == (CancelVerdict.ALREADY_ENDED, WorkflowStatus.FAILED)


async def test_a_fleet_asks_its_unfinished_children_under_its_lease(store: Store) -> None:
    parent = await claimed(store, "fleet")
    children = [
        NewWorkflow(uuid.uuid4(), f"fleet/{parent.id}/{n}", "backup", "p", "r", {"n": n}) for n in range(3)
    ]
    for child in children:
        await create_one(store, child)
    await raw_sql(store).execute(
        "UPDATE workflows SET parent_id = $1 WHERE id = ANY($2::uuid[])", parent.id, [c.id for c in children]
    )
    [first] = [w for w in await store.claim_due("w", 30, 10) if w.id == children[0].id]
    await finish(store, first.claim)
    assert await store.cancel_children(parent.claim) == 2
    rows = await raw_sql(store).fetch(
        "SELECT command_id, cancel_requested_at IS NOT NULL AS asked FROM workflows WHERE parent_id = $1"
        " ORDER BY command_id",
        parent.id,
    )
    assert [r["asked"] for r in rows] == [False, True, True]  # the finished one is left as it ended
    await store.release_until(parent.claim, {}, datetime.now(UTC) + LATER, cancel_seen=True)
    with pytest.raises(LeaseLost):
        await store.cancel_children(parent.claim)
