"""A command id names one command: the same body again is a duplicate, another body under it is refused."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from aio_pika.abc import AbstractRobustConnection
from broker_helpers import PROJECT, REGION, backup_body, drain, wait_for
from store_rows import create_one

from orchestrator.broker import REASON_HEADER, Intake, Topology, new_workflow, publish_raw
from orchestrator.broker.commit_batch import CommitBatch
from orchestrator.config import Settings
from orchestrator.messages import AnyCommand, BackupCommand, parse_command, stored_input, workflow_id_for
from orchestrator.store import CommandConflict, Store, Verdict


def backup(command_id: str, server: str = "srv-1") -> AnyCommand:
    return parse_command(backup_body(command_id, resources=[{"id": server}]))


def restore(command_id: str) -> AnyCommand:
    body = {
        "kind": "restore",
        "command_id": command_id,
        "project_id": PROJECT,
        "region": REGION,
        "backup_id": "b1",
        "server_id": "srv-1",
    }
    return parse_command(json.dumps(body).encode())


async def test_the_store_gives_a_verdict_per_command_in_order(store: Store) -> None:
    await store.create_workflows_if_absent([new_workflow(backup("a"))])
    verdicts = await store.create_workflows_if_absent(
        [
            new_workflow(backup("a")),  # known, same body
            new_workflow(backup("a", "srv-2")),  # known, another body
            new_workflow(backup("b")),  # new
            new_workflow(backup("b")),  # the same body again in the batch
            new_workflow(restore("b")),  # another body in the batch: the first of the batch won
            new_workflow(restore("c")),
            new_workflow(backup("c")),
        ]
    )
    assert [v.verdict for v in verdicts] == [
        Verdict.DUPLICATE,
        Verdict.CONFLICT,
        Verdict.NEW,
        Verdict.DUPLICATE,
        Verdict.CONFLICT,
        Verdict.NEW,
        Verdict.CONFLICT,
    ]
    assert [v.workflow_id for v in verdicts] == [workflow_id_for(c) for c in "aabbbcc"]
    b, c = await store.workflow_by_command("b"), await store.workflow_by_command("c")
    assert b is not None and b.kind == "backup" and b.input == stored_input(backup("b"))
    assert c is not None and c.kind == "restore"


async def test_the_single_insert_refuses_another_body_under_a_known_id(store: Store) -> None:
    wid, created = await create_one(store, new_workflow(backup("a")))
    assert (wid, created) == (workflow_id_for("a"), True)
    assert await create_one(store, new_workflow(backup("a"))) == (wid, False)
    with pytest.raises(CommandConflict) as info:
        await create_one(store, new_workflow(restore("a")))
    assert info.value.workflow_id == wid


async def test_commands_committed_in_one_batch_get_their_own_verdicts(store: Store) -> None:
    batch = CommitBatch(store, retry_delays=(), window=0.05)
    first, same, other = await asyncio.gather(
        batch.commit(new_workflow(backup("x"))),
        batch.commit(new_workflow(backup("x"))),
        batch.commit(new_workflow(backup("x", "srv-9"))),
    )
    assert [first.verdict, same.verdict, other.verdict] == [Verdict.NEW, Verdict.DUPLICATE, Verdict.CONFLICT]
    stored = await store.workflow_by_command("x")
    assert stored is not None and stored.input["resources"] == [{"id": "srv-1", "type": "OS::Nova::Server"}]


async def test_intake_refuses_another_body_under_a_known_command_id(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    await topology.commands.consume(Intake(store, settings, topology).handle)
    publisher = await connection.channel(publisher_confirms=True)
    first = backup_body("c1")
    await publish_raw(publisher, settings.names, [first])

    async def created() -> bool:
        return await store.workflow_by_command("c1") is not None

    await wait_for(created)
    as_restore = json.dumps(
        {
            "kind": "restore",
            "command_id": "c1",
            "project_id": PROJECT,
            "region": REGION,
            "backup_id": "b1",
            "server_id": "s1",
        }
    ).encode()
    another_server = backup_body("c1", resources=[{"id": "srv-2"}])
    same_again = backup_body("c1")
    await publish_raw(publisher, settings.names, [as_restore, same_again, another_server, same_again])

    dead = await drain(topology.dead_letters, 3, seconds=3)
    wid = workflow_id_for("c1")
    reason = f"conflict: command id c1 already names a different command (workflow {wid})"
    assert [d.headers[REASON_HEADER] for d in dead] == [reason, reason]
    assert sorted(d.body for d in dead) == sorted([as_restore, another_server])
    stored = await store.workflow_by_command("c1")
    assert stored is not None and stored.kind == "backup" and stored.id == wid
    assert stored.input == stored_input(parse_command(first))
    assert len(await store.list_workflows()) == 1


async def test_two_bodies_under_one_id_in_one_intake_batch_the_first_wins(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    publisher = await connection.channel(publisher_confirms=True)
    first, second = backup_body("d1"), backup_body("d1", resources=[{"id": "srv-2"}])
    await publish_raw(publisher, settings.names, [first, second])  # queued before the intake consumes
    await topology.commands.consume(Intake(store, settings, topology).handle)

    [dead] = await drain(topology.dead_letters, 1)
    assert str(dead.headers[REASON_HEADER]).startswith("conflict: command id d1 already names")
    assert dead.body == second
    stored = await store.workflow_by_command("d1")
    assert stored is not None
    assert BackupCommand.model_validate(stored.input).resources[0].id == "srv-1"


async def test_a_command_stored_before_callbacks_existed_is_a_duplicate_when_sent_again(store: Store) -> None:
    command = backup("pre-upgrade")
    old_form = command.model_dump(mode="json", exclude={"callback_url"})  # as stored before the field existed
    first = new_workflow(command)
    await store.create_workflows_if_absent([replace(first, input=old_form)])
    [again] = await store.create_workflows_if_absent([new_workflow(command)])
    assert again.verdict is Verdict.DUPLICATE
    with_callback = command.model_copy(update={"callback_url": "https://hooks.example.com/x"})
    [other] = await store.create_workflows_if_absent([new_workflow(with_callback)])
    assert other.verdict is Verdict.CONFLICT
