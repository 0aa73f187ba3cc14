"""The relay publishes committed events with confirms, to the events exchange and reply_to, once."""

from __future__ import annotations

import asyncio
import json
import uuid

from aio_pika.abc import AbstractRobustConnection
from broker_helpers import drain
from store_rows import create_one

from orchestrator.broker import Relay, Topology
from orchestrator.store import NewWorkflow, OutboxEvent, Store


async def seed_events(store: Store, n: int, reply_to: str | None) -> uuid.UUID:
    wid, _ = await create_one(
        store,
        NewWorkflow(id=uuid.uuid4(), command_id="c", kind="backup", project_id="p", region="r", input={}),
    )
    [wf] = await store.claim_due("w", 30, 1)
    events = [
        OutboxEvent(f"e{i}", "workflow.backup.succeeded", {"id": f"e{i}", "type": "t"}, reply_to, "corr-1")
        for i in range(n)
    ]
    await store.save_state(wf.claim, {}, 30, events=events)
    return wid


async def test_relay_publishes_each_event_once(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    channel = await connection.channel(publisher_confirms=True)
    listen = await connection.channel()
    events_q = await listen.declare_queue(exclusive=True)
    await events_q.bind(topology.events.name, routing_key="workflow.#")
    reply_q = await listen.declare_queue(exclusive=True)
    await seed_events(store, 5, reply_q.name)

    relay = Relay(store, channel, topology.events, poll_seconds=0.2, batch_size=2)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    got = await drain(events_q, 5)
    replies = await drain(reply_q, 5)
    stop.set()
    relay.wake()
    await asyncio.wait_for(task, 5)

    assert sorted(m.message_id or "" for m in got) == [f"e{i}" for i in range(5)]
    assert {m.correlation_id for m in replies} == {"corr-1"}
    assert json.loads(got[0].body)["type"] == "t"
    assert await relay.publish_batch() == 0
    assert await drain(events_q, 1, seconds=0.3) == []


async def test_relay_is_woken_by_notify_not_only_by_polling(
    store: Store, topology: Topology, connection: AbstractRobustConnection
) -> None:
    channel = await connection.channel(publisher_confirms=True)
    listen = await connection.channel()
    events_q = await listen.declare_queue(exclusive=True)
    await events_q.bind(topology.events.name, routing_key="#")
    relay = Relay(store, channel, topology.events, poll_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.3)
    await seed_events(store, 1, None)
    got = await drain(events_q, 1, seconds=5)
    stop.set()
    relay.wake()
    await asyncio.wait_for(task, 5)
    assert len(got) == 1
