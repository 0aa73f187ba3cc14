"""Intake through a real RabbitMQ: commands become workflows once; bad input is dead-lettered."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import backup_body, drain, wait_for

from orchestrator.broker import REASON_HEADER, Intake, Topology, publish_raw
from orchestrator.config import Settings
from orchestrator.messages import workflow_id_for
from orchestrator.store import Store, WorkflowStatus


async def test_good_duplicate_and_bad_commands(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    intake = Intake(store, settings, topology)
    await topology.commands.consume(intake.handle)
    publisher = await connection.channel(publisher_confirms=True)
    bad = [
        b"{oops",
        backup_body("v2", version=2),
        backup_body("x", extra="field"),
        backup_body("np", project_id="f" * 32),
        b"x" * 70_000,
    ]
    good = [backup_body("c1"), backup_body("c1"), backup_body("c2"), backup_body("c1")]
    await publish_raw(publisher, settings.names, [*good[:2], *bad, *good[2:]])

    dead = await drain(topology.dead_letters, len(bad))
    reasons = sorted(str(m.headers[REASON_HEADER]).split(":")[0] for m in dead)
    assert reasons == ["invalid", "malformed", "refused", "too large", "unsupported version"]

    async def both_created() -> bool:
        return len(await store.list_workflows()) == 2

    await wait_for(both_created)
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.id == workflow_id_for("c1")
    assert wf.status is WorkflowStatus.PENDING
    assert wf.input["vault"] == {"id": "vault-1", "name": None, "create": None}

    async def queue_empty() -> bool:
        declared = await publisher.declare_queue(settings.names.commands_queue, passive=True)
        return declared.declaration_result.message_count == 0

    await wait_for(queue_empty)
    await asyncio.sleep(0.2)
    assert len(await store.list_workflows()) == 2


async def test_poison_message_is_dead_lettered_after_the_delivery_limit(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    await store.close()  # every insert now fails: the message is requeued until the limit
    intake = Intake(store, settings, topology, store_retry_delays=())
    await topology.commands.consume(intake.handle)
    publisher = await connection.channel(publisher_confirms=True)
    await publish_raw(publisher, settings.names, [backup_body("poison")])
    [dead] = await drain(topology.dead_letters, 1, seconds=20)
    assert REASON_HEADER not in (dead.headers or {})
    assert dead.headers["x-first-death-reason"] == "delivery_limit"


async def test_topology_is_declared_idempotently(
    settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    from orchestrator.broker import declare_topology

    channel = await connection.channel()
    again = await declare_topology(channel, settings.names, settings.worker.delivery_limit)
    assert again.commands.name == topology.commands.name
    probe = await connection.channel()
    events = await probe.get_exchange(settings.names.events_exchange, ensure=True)
    assert events.name == settings.names.events_exchange
    assert isinstance(events, aio_pika.abc.AbstractExchange)
