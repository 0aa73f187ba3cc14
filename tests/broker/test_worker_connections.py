"""The worker's intake and relay each have their own AMQP connection; a reply that cannot be delivered
does not hold a draining worker."""

from __future__ import annotations

import asyncio
import json
import uuid

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from broker_helpers import drain, wait_for
from store_rows import create_one, raw_sql
from worker_helpers import backup, publish, running_worker, servers

from orchestrator.broker import declare_topology, delete_topology
from orchestrator.config import Settings
from orchestrator.store import NewWorkflow, OutboxEvent, Store, WorkflowStatus
from orchestrator.worker import run_worker


async def test_intake_and_relay_do_not_share_a_connection(
    settings: Settings, store: Store, connection: AbstractRobustConnection
) -> None:
    channel = await connection.channel()
    await declare_topology(channel, settings.names, settings.worker.delivery_limit)
    events_q = await channel.declare_queue(exclusive=True)
    await events_q.bind(settings.names.events_exchange, routing_key="#")
    closes: list[str] = []
    try:
        async with running_worker(settings, closes, engine=False) as parts:
            # a header frame over frame_max: RabbitMQ closes the whole connection it came on, the intake's
            frame_breaker = await parts.connection.channel()
            too_big = aio_pika.Message(b"{}", headers={"big": "y" * 131_100})
            with pytest.raises(aio_pika.exceptions.AMQPConnectionError):
                await frame_breaker.default_exchange.publish(too_big, routing_key="nowhere")

            async def intake_closed() -> bool:
                return "intake" in closes

            await wait_for(intake_closed)
            assert not parts.relay_connection.is_closed
            await create_one(
                store,
                NewWorkflow(
                    id=uuid.uuid4(), command_id="c", kind="backup", project_id="p", region="r", input={}
                ),
            )
            [claimed] = await store.claim_due("test", 30, 1)
            event = OutboxEvent("e-during-outage", "workflow.backup.succeeded", {"id": "e", "type": "t"})
            await store.save_state(claimed.claim, {}, 30, events=[event])
            # the relay's connection is untouched: the event goes out at once, not after the intake's
            # connection is back (a robust connection waits 5 s before reconnecting)
            [got] = await drain(events_q, 1, seconds=2)
            assert got.message_id == "e-during-outage"
            assert closes == ["intake"]
    finally:
        cleanup = await connection.channel()
        await delete_topology(cleanup, settings.names)


async def test_a_draining_worker_stops_although_a_reply_cannot_be_delivered(
    worker_settings: Settings,
    store: Store,
    connection: AbstractRobustConnection,
    events_queue: AbstractQueue,
) -> None:
    [server] = servers(1)
    command = backup("no-reply-queue", server, reply_to=f"no-such-queue-{uuid.uuid4().hex}")
    message = aio_pika.Message(json.dumps(command).encode())
    await publish(connection, worker_settings.names.commands_queue, [message])
    await asyncio.wait_for(run_worker(worker_settings, asyncio.Event(), drain=True), 30)

    wf = await store.workflow_by_command("no-reply-queue")
    assert wf is not None and wf.status is WorkflowStatus.SUCCEEDED
    finals = [json.loads(m.body) for m in await drain(events_queue, 2, seconds=1)]
    assert [e["data"]["command_id"] for e in finals] == ["no-reply-queue"]
    row = await raw_sql(store).fetchrow(
        "SELECT reply_attempts, reply_error, reply_parked_at FROM outbox WHERE workflow_id = $1", wf.id
    )
    assert row is not None and row["reply_parked_at"] is not None
    assert (row["reply_attempts"], row["reply_error"]) == (2, "unroutable (312 NO_ROUTE)")
