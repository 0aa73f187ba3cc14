"""Every command intake refuses is recorded in PostgreSQL with its reason, under its command id when it
names a well-formed one, besides being dead-lettered as before; a database that is away loses no message."""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import PROJECT, backup_body, drain, wait_for
from store_rows import raw_sql

from orchestrator.broker import REASON_HEADER, Intake, Topology
from orchestrator.config import Settings
from orchestrator.store import Store


def message(body: bytes, message_id: str | None) -> aio_pika.Message:
    return aio_pika.Message(body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


async def refusal_rows(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in await raw_sql(store).fetch("SELECT * FROM refusals ORDER BY id")]


async def test_each_kind_of_refusal_is_recorded_with_its_reason_and_dead_lettered(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    await topology.commands.consume(Intake(store, settings, topology).handle)
    channel = await connection.channel(publisher_confirms=True)
    queue = settings.names.commands_queue
    await channel.default_exchange.publish(message(backup_body("taken"), "taken"), routing_key=queue)

    async def taken() -> bool:
        return await store.workflow_by_command("taken") is not None

    await wait_for(taken)
    refused = {
        "m-malformed": (b"{oops", None, "malformed: not JSON"),
        "m-large": (b"x" * 70_000, None, "too large: 70000 bytes"),
        "m-invalid": (backup_body("inv-1", extra="field"), "inv-1", "invalid: backup.extra: Extra inputs"),
        "m-version": (backup_body("ver-1", version=2), "ver-1", "unsupported version: 2"),
        "m-creds": (
            backup_body("cred-1", project_id="f" * 32),
            "cred-1",
            f"refused: no credentials configured for project {'f' * 32} in region",
        ),
        "m-conflict": (backup_body("taken", name="another"), "taken", "conflict: command id taken already"),
        "m\x01control": (b"[]", None, "malformed: a command is a JSON object"),  # id not printable: not kept
    }
    for message_id, (body, _, _) in refused.items():
        await channel.default_exchange.publish(message(body, message_id), routing_key=queue)

    dead = await drain(topology.dead_letters, len(refused))
    assert sorted(str(m.headers[REASON_HEADER])[:9] for m in dead) == sorted(
        r[:9] for _, _, r in refused.values()
    )

    async def all_recorded() -> bool:
        return len(await refusal_rows(store)) == len(refused)

    await wait_for(all_recorded)
    rows = {r["message_id"]: r for r in await refusal_rows(store)}
    for message_id, (body, command_id, reason) in refused.items():
        row = rows[message_id if "\x01" not in message_id else None]
        assert row["command_id"] == command_id, message_id
        assert row["reason"].startswith(reason), (message_id, row["reason"])
        assert row["size_bytes"] == len(body)
        assert row["refused_at"] is not None
    assert set(rows["m-creds"]) == {"id", "command_id", "message_id", "reason", "size_bytes", "refused_at"}

    [conflict] = await store.refusals.of("taken")
    assert conflict.message_id == "m-conflict" and "different command" in conflict.reason
    [by_message_id] = await store.refusals.of("m-large")  # no command id read: found by its message id
    assert by_message_id.command_id is None and by_message_id.reason.startswith("too large")
    assert await store.refusals.of("taken", after_id=conflict.id) == []
    newest = await store.refusals.recent(limit=2)
    assert [r.id for r in newest] == sorted((r["id"] for r in rows.values()), reverse=True)[:2]
    assert PROJECT not in str(rows)  # a refusal names what was refused, never what was accepted


async def test_a_refusal_the_database_cannot_record_is_still_dead_lettered_and_acked(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    await store.close()  # every write fails: the refusal cannot be recorded
    await topology.commands.consume(Intake(store, settings, topology, store_retry_delays=(0.05,)).handle)
    channel = await connection.channel(publisher_confirms=True)
    await channel.default_exchange.publish(
        message(b"{oops", "lost-db"), routing_key=settings.names.commands_queue
    )
    [dead] = await drain(topology.dead_letters, 1)
    assert dead.headers[REASON_HEADER] == "malformed: not JSON"
    assert "x-first-death-reason" not in (dead.headers or {})  # refused once, not requeued to the limit

    async def acked() -> bool:
        declared = await channel.declare_queue(settings.names.commands_queue, passive=True, robust=False)
        return declared.declaration_result.message_count == 0

    await wait_for(acked)
    assert await drain(topology.dead_letters, 1, seconds=1) == []
