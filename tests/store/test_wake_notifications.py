"""Wakes reach the engines of other workers: a NOTIFY on the workflows' channel when a fleet's child ends
(from the finish statement itself) and when the poller wakes workflows; none when nothing was woken."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from store_rows import create_one

from orchestrator.messages import workflow_id_for
from orchestrator.store import WORKFLOWS_CHANNEL, Finish, NewChild, NewWorkflow, Store, WorkflowStatus

LEASE = 30.0
DONE = Finish(WorkflowStatus.SUCCEEDED, {"resources": []})


def new(command_id: str) -> NewWorkflow:
    body = {"command_id": command_id, "resources": [{"id": "r"}]}
    return NewWorkflow(workflow_id_for(command_id), command_id, "backup", "p", "r", body)


async def notified(store: Store, action: Callable[[], Awaitable[object]]) -> bool:
    """Whether the workflows' channel is notified while ``action`` runs (within a second)."""
    listener = store.listen(WORKFLOWS_CHANNEL)
    try:
        await listener.wait(0.01)  # connects; the first wait may return True (missed-notification guard)
        assert await listener.wait(0.05) is False
        waiter = asyncio.create_task(listener.wait(1.0))
        await asyncio.sleep(0.05)
        await action()
        return await waiter
    finally:
        await listener.close()


async def test_a_child_that_ends_notifies_and_a_workflow_without_a_fleet_does_not(store: Store) -> None:
    fleet_id, _ = await create_one(store, new("fleet"))
    [fleet] = await store.claim_due("w", LEASE, 10)
    child_id = workflow_id_for("fleet/child")
    body = {"command_id": "fleet", "resources": [{"id": "r"}]}
    await store.fleet.spawn(fleet.claim, [NewChild(child_id, "fleet/child", "backup", "p", "r", body)])
    await create_one(store, new("alone"))
    claimed = {wf.command_id: wf for wf in await store.claim_due("w", LEASE, 10)}
    alone, child = claimed["alone"], claimed["fleet/child"]
    assert not await notified(store, lambda: store.finish_with_event(alone.claim, {}, DONE, None))
    assert await notified(store, lambda: store.finish_with_event(child.claim, {}, DONE, None))
    assert fleet.id == fleet_id


async def test_waking_notifies_only_when_something_was_woken(store: Store) -> None:
    wf_id, _ = await create_one(store, new("a"))
    assert not await notified(store, lambda: store.wake([uuid.uuid4()]))
    assert await notified(store, lambda: store.wake([wf_id]))
