"""A reply to ``reply_to`` is tracked apart from its event: it can neither block nor repeat the event, is
retried a bounded number of times at the relay's pace, then parked with its error."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from broker_helpers import drain
from store_rows import create_one, raw_sql

from orchestrator.broker import Relay, Topology
from orchestrator.store import NewWorkflow, OutboxEvent, Store

POLL = 0.2


async def seed(store: Store, reply_to: str | None, n: int = 1) -> list[str]:
    """``n`` events with ``reply_to``, written as the engine writes them; their ids."""
    command_id = uuid.uuid4().hex
    wid, _ = await create_one(
        store,
        NewWorkflow(
            id=uuid.uuid4(), command_id=command_id, kind="backup", project_id="p", region="r", input={}
        ),
    )
    [claimed] = [wf for wf in await store.claim_due("w", 30, 100) if wf.id == wid]
    ids = [f"{command_id}-e{i}" for i in range(n)]
    events = [
        OutboxEvent(e, "workflow.backup.succeeded", {"id": e, "type": "t"}, reply_to, "corr") for e in ids
    ]
    await store.save_state(claimed.claim, {}, 30, events=events)
    return ids


async def row(store: Store, event_id: str) -> dict[str, Any]:
    record = await raw_sql(store).fetchrow("SELECT * FROM outbox WHERE event_id = $1", event_id)
    assert record is not None
    return dict(record)


async def relay_and_queues(
    store: Store, topology: Topology, connection: AbstractRobustConnection, attempts: int = 3
) -> tuple[Relay, Any, Any]:
    listen = await connection.channel()
    events_q = await listen.declare_queue(exclusive=True)
    await events_q.bind(topology.events.name, routing_key="#")
    replies_q = await listen.declare_queue(exclusive=True)
    events_channel = await connection.channel(publisher_confirms=True)
    events = await events_channel.get_exchange(topology.events.name)
    replies_channel = await connection.channel(publisher_confirms=True)
    relay = Relay(store, replies_channel, events, poll_seconds=POLL, reply_attempts=attempts)
    return relay, events_q, replies_q


async def test_a_reply_to_no_queue_is_retried_then_parked_and_the_event_goes_out_once(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    relay, events_q, _ = await relay_and_queues(store, topology, connection, attempts=3)
    [event_id] = await seed(store, f"no-such-queue-{uuid.uuid4().hex}")
    assert await store.unpublished_count() == 1

    assert await relay.publish_batch() == 1  # the event, confirmed; the reply returned unroutable
    first = await row(store, event_id)
    assert first["published_at"] is not None and first["replied_at"] is None
    assert (first["reply_attempts"], first["reply_parked_at"]) == (1, None)
    assert first["reply_error"] == "unroutable (312 NO_ROUTE)"
    assert await store.unpublished_count() == 1  # the reply is still pending
    assert await relay.publish_batch() == 0  # not before the relay's pace
    assert (await row(store, event_id))["reply_attempts"] == 1

    for attempt in (2, 3):
        await asyncio.sleep(POLL)
        assert await relay.publish_batch() == 0
        assert (await row(store, event_id))["reply_attempts"] == attempt
    parked = await row(store, event_id)
    assert parked["reply_parked_at"] is not None and parked["reply_error"] == "unroutable (312 NO_ROUTE)"
    assert await store.unpublished_count() == 0  # a parked reply does not hold a draining worker
    await asyncio.sleep(POLL)
    assert await relay.publish_batch() == 0
    assert [m.message_id for m in await drain(events_q, 2, seconds=0.5)] == [event_id]


async def test_a_reply_to_too_long_for_amqp_is_parked_at_once(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    relay, events_q, _ = await relay_and_queues(store, topology, connection)
    [event_id] = await seed(store, "é" * 200)  # 400 bytes: no AMQP short string (written before checks)
    for _ in range(3):
        await relay.publish_batch()
        await asyncio.sleep(POLL)
    parked = await row(store, event_id)
    assert parked["reply_attempts"] == 1 and parked["reply_parked_at"] is not None
    assert parked["reply_error"] == "invalid reply_to: at most 255 UTF-8 bytes"
    assert [m.message_id for m in await drain(events_q, 2, seconds=0.5)] == [event_id]


async def test_a_reply_that_fails_once_is_delivered_on_a_later_attempt(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    relay, events_q, _ = await relay_and_queues(store, topology, connection)
    late_queue = f"late-{uuid.uuid4().hex}"
    [event_id] = await seed(store, late_queue)
    assert await relay.publish_batch() == 1
    channel = await connection.channel()
    queue = await channel.declare_queue(late_queue, exclusive=True)  # now it exists
    await asyncio.sleep(POLL)
    assert await relay.publish_batch() == 1
    done = await row(store, event_id)
    assert done["replied_at"] is not None and done["reply_attempts"] == 2 and done["reply_parked_at"] is None
    [reply] = await drain(queue, 1)
    assert (reply.message_id, reply.correlation_id) == (event_id, "corr")
    assert [m.message_id for m in await drain(events_q, 2, seconds=0.5)] == [event_id]


async def test_later_events_flow_while_a_reply_is_failing(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    relay, events_q, replies_q = await relay_and_queues(store, topology, connection, attempts=4)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        [stuck] = await seed(store, f"no-such-queue-{uuid.uuid4().hex}")
        later = await seed(store, replies_q.name, n=3)
        got = await drain(events_q, 4, seconds=5)
        replies = await drain(replies_q, 3, seconds=5)
        for _ in range(50):
            if (await row(store, stuck))["reply_parked_at"] is not None:
                break
            await asyncio.sleep(POLL)
    finally:
        stop.set()
        relay.wake()
        await asyncio.wait_for(task, 5)
    assert sorted(m.message_id or "" for m in got) == sorted([stuck, *later])
    assert sorted(m.message_id or "" for m in replies) == sorted(later)
    parked = await row(store, stuck)
    assert parked["reply_attempts"] == 4 and parked["reply_parked_at"] is not None
    assert await drain(events_q, 1, seconds=0.3) == []
    assert await store.unpublished_count() == 0
