"""Writes of many workflows made at the same moment share one statement; each keeps its own lease guard."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from store_rows import create_one, raw_sql

from orchestrator.store import (
    Claim,
    Finish,
    LeaseLost,
    NewWorkflow,
    OutboxEvent,
    Step,
    StepOutcome,
    Store,
    WorkflowStatus,
)


def new(i: int) -> NewWorkflow:
    return NewWorkflow(
        id=uuid.uuid4(), command_id=f"c{i}", kind="backup", project_id="p", region="r", input={}, state={}
    )


def steps(n: int) -> list[Step]:
    now = datetime.now(UTC)
    return [
        Step(operation=f"op{k}", outcome=StepOutcome.OK, started_at=now, finished_at=now, request={"k": k})
        for k in range(n)
    ]


async def claimed(store: Store, n: int, owner: str = "w") -> list[Claim]:
    """``n`` workflows claimed by ``owner``, in creation order."""
    ids = [(await create_one(store, new(i)))[0] for i in range(n)]
    claims = {wf.id: wf.claim for wf in await store.claim_due(owner, 30, n)}
    assert len(claims) == n
    return [claims[wid] for wid in ids]


async def outcomes(*writes: object) -> list[object]:
    return await asyncio.gather(*writes, return_exceptions=True)  # type: ignore[arg-type]


async def test_a_lost_lease_refuses_only_its_own_row(store: Store) -> None:
    claims = await claimed(store, 6)
    ids = [c.workflow_id for c in claims]
    stolen = ids[2]
    await raw_sql(store).execute("UPDATE workflows SET lease_owner = 'thief' WHERE id = $1", stolen)
    later = datetime.now(UTC) + timedelta(minutes=5)
    results = await outcomes(
        *(store.release_until(c, {"n": i}, later, steps(2)) for i, c in enumerate(claims))
    )
    assert [isinstance(r, LeaseLost) for r in results] == [wid == stolen for wid in ids]
    for i, wid in enumerate(ids):
        wf = await store.get_workflow(wid)
        assert wf is not None
        assert (wf.state, wf.lease_owner) == (({"n": i}, None) if wid != stolen else ({}, "thief"))
        assert [s.step.operation for s in await store.steps_of(wid)] == (
            [] if wid == stolen else ["op0", "op1"]
        )


async def test_finishes_together_each_with_its_event_and_steps(store: Store) -> None:
    claims = await claimed(store, 5)
    ids = [c.workflow_id for c in claims]
    await raw_sql(store).execute("UPDATE workflows SET lease_owner = 'thief' WHERE id = $1", ids[0])
    finish = Finish(WorkflowStatus.SUCCEEDED, {"ok": True})
    results = await outcomes(
        *(
            store.finish_with_event(c, {}, finish, OutboxEvent(f"e{i}", "workflow.x", {"i": i}), steps(i))
            for i, c in enumerate(claims)
        )
    )
    assert isinstance(results[0], LeaseLost)
    assert results[1:] == [None] * 4
    assert await store.events_of(ids[0]) == []
    for i, wid in enumerate(ids[1:], start=1):
        wf = await store.get_workflow(wid)
        assert wf is not None and wf.status is WorkflowStatus.SUCCEEDED
        assert [e.event_id for e in await store.events_of(wid)] == [f"e{i}"]
        assert len(await store.steps_of(wid)) == i


async def test_saves_keep_the_lease(store: Store) -> None:
    claims = await claimed(store, 3)
    await asyncio.gather(*(store.save_state(c, {"saved": True}, 30, steps(1)) for c in claims))
    for c in claims:
        wf = await store.get_workflow(c.workflow_id)
        assert wf is not None and wf.state == {"saved": True} and wf.lease_owner == "w"


async def test_one_resource_asked_by_many_at_once_is_locked_once(store: Store) -> None:
    claims = await claimed(store, 4)
    got = await asyncio.gather(*(store.admission.lock_alone(c, "p", "r", "server-1") for c in claims))
    assert sum(got) == 1
    holder = claims[got.index(True)]
    assert await store.admission.lock_alone(holder, "p", "r", "server-1")  # asking again: still holds it
    others = await asyncio.gather(
        *(store.admission.lock_alone(c, "p", "r", f"server-{i}") for i, c in enumerate(claims))
    )
    assert others == [i != 1 or c == holder for i, c in enumerate(claims)]


async def test_a_failing_row_fails_alone(store: Store) -> None:
    claims = await claimed(store, 3)
    later = datetime.now(UTC) + timedelta(minutes=5)
    bad = {"not json": object()}
    results = await outcomes(
        *(store.release_until(c, bad if i == 1 else {}, later) for i, c in enumerate(claims))
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], asyncpg.DataError)  # the state is not JSON
    with pytest.raises(LeaseLost):  # the two written ones are released
        await store.save_state(claims[0], {}, 30)
