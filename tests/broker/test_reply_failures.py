"""A reply that cannot reach its ``reply_to`` queue is readable on its workflow (``reply_failures``): while
the relay retries it, once parked, and no longer once a later attempt delivered it."""

from __future__ import annotations

import asyncio
import uuid

from aio_pika.abc import AbstractRobustConnection
from store_rows import create_one

from orchestrator.broker import Relay, Topology
from orchestrator.store import NewWorkflow, OutboxEvent, Store

POLL = 0.2


async def workflow_with_events(store: Store, reply_to: str, n: int) -> uuid.UUID:
    """A workflow with ``n`` events replying to ``reply_to``, written as the engine writes them."""
    command_id = uuid.uuid4().hex
    wid, _ = await create_one(
        store,
        NewWorkflow(
            id=uuid.uuid4(), command_id=command_id, kind="backup", project_id="p", region="r", input={}
        ),
    )
    [claimed] = [wf for wf in await store.claim_due("w", 30, 100) if wf.id == wid]
    events = [OutboxEvent(f"{command_id}-{i}", "workflow.backup.progress", {}, reply_to) for i in range(n)]
    await store.save_state(claimed.claim, {}, 30, events=events)
    return wid


async def relay_on(topology: Topology, store: Store, connection: AbstractRobustConnection) -> Relay:
    events = await (await connection.channel(publisher_confirms=True)).get_exchange(topology.events.name)
    return Relay(
        store, await connection.channel(publisher_confirms=True), events, poll_seconds=POLL, reply_attempts=2
    )


async def test_undelivered_replies_are_read_on_their_workflow_until_delivered(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    relay = await relay_on(topology, store, connection)
    queue = f"late-{uuid.uuid4().hex}"
    wid = await workflow_with_events(store, queue, 2)
    quiet = await workflow_with_events(store, f"other-{uuid.uuid4().hex}", 0)
    assert await store.replies.untried(wid) == 2 and await store.replies.failures(wid) == []

    await relay.publish_batch()
    failing = await store.replies.failures(wid)
    assert await store.replies.untried(wid) == 0
    assert [(f.reply_to, f.attempts, f.error, f.parked) for f in failing] == [
        (queue, 1, "unroutable (312 NO_ROUTE)", False)
    ] * 2
    assert [f.routing_key for f in failing] == ["workflow.backup.progress"] * 2
    assert await store.replies.failures(quiet) == []

    channel = await connection.channel()
    await channel.declare_queue(queue, exclusive=True)  # the queue now exists: the next attempt delivers
    await asyncio.sleep(POLL)
    await relay.publish_batch()
    assert await store.replies.failures(wid) == []


async def test_a_parked_reply_stays_readable(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    relay = await relay_on(topology, store, connection)
    wid = await workflow_with_events(store, f"never-{uuid.uuid4().hex}", 1)
    for _ in range(3):
        await relay.publish_batch()
        await asyncio.sleep(POLL)
    [parked] = await store.replies.failures(wid)
    assert parked.parked and parked.attempts == 2 and parked.error == "unroutable (312 NO_ROUTE)"
