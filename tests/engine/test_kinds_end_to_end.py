"""Restore and replicate end to end; duplicates; bad input beside a good batch."""

from __future__ import annotations

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from engine_helpers import (
    DEST,
    PROJECT,
    REGION,
    backup_command,
    client_for,
    collect,
    drain_worker,
    publish,
    servers,
)

from orchestrator.broker import REASON_HEADER
from orchestrator.cbr.bodies import BillingCreate, VaultCreate
from orchestrator.config import Settings
from orchestrator.emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from orchestrator.emulator.server import RunningEmulator
from orchestrator.messages import ReplicateCommand, RestoreCommand
from orchestrator.store import Store, WorkflowStatus


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(tenants=[DEFAULT_TENANT, DEST], progression=Progression.instantly())


async def backed_up(
    settings: Settings, store: Store, connection: AbstractRobustConnection, ids: list[str]
) -> list[str]:
    await publish(connection, settings, backup_command("first-backup", ids))
    await drain_worker(settings)
    wf = await store.workflow_by_command("first-backup")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.result is not None
    return [r["backup_id"] for r in wf.result["resources"]]


async def test_restore_end_to_end(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    [server] = servers(emulator_config, 1)
    [backup_id] = await backed_up(settings, store, connection, [server])
    async with client_for(emulator.base_url, DEFAULT_TENANT) as cbr:
        backup = await cbr.show_backup(backup_id)
    mappings = [{"backup_id": c.id, "volume_id": c.resource_id} for c in backup.children]
    command = RestoreCommand.model_validate(
        {
            "command_id": "restore-1",
            "project_id": PROJECT,
            "region": REGION,
            "backup_id": backup_id,
            "server_id": server,
            "mappings": mappings,
            "power_on": True,
        }
    )
    await publish(connection, settings, command)
    await drain_worker(settings)
    wf = await store.workflow_by_command("restore-1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert emulator.counters.requests_of("restore_backup") == 1
    finals = [e for e in await collect(events_queue) if e["data"]["kind"] == "restore"]
    assert [e["data"]["outcome"] for e in finals if e["data"]["outcome"] != "progress"] == ["succeeded"]


async def test_replicate_end_to_end_records_the_destination_backup(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    [server] = servers(emulator_config, 1)
    [backup_id] = await backed_up(settings, store, connection, [server])
    async with client_for(emulator.base_url, DEST) as dest:
        vault = await dest.create_vault(
            VaultCreate(
                name="replicas",
                billing=BillingCreate(object_type="server", protect_type="replication", size=1000),
            )
        )
    command = ReplicateCommand.model_validate(
        {
            "command_id": "rep-1",
            "project_id": PROJECT,
            "region": REGION,
            "backup_id": backup_id,
            "destination_region": DEST.region,
            "destination_project_id": DEST.project_id,
            "destination_vault_id": vault.id,
        }
    )
    await publish(connection, settings, command)
    await drain_worker(settings)
    wf = await store.workflow_by_command("rep-1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None
    assert wf.result["destination_backup_id"]
    async with client_for(emulator.base_url, DEST) as dest:
        replica = await dest.show_backup(wf.result["destination_backup_id"])
    assert replica.image_type == "replication"
    events = [e for e in await collect(events_queue) if e["data"]["kind"] == "replicate"]
    assert events[-1]["data"]["destination_backup_id"] == wf.result["destination_backup_id"]


async def test_command_published_three_times_gives_one_workflow_and_one_event(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    command = backup_command("dup-1", servers(emulator_config, 1))
    await publish(connection, settings, command, command, command)
    await drain_worker(settings)
    await publish(connection, settings, command)  # even after it finished
    await drain_worker(settings)
    assert len(await store.list_workflows()) == 1
    assert emulator.counters.requests_of("create_checkpoint") == 1
    finals = [e for e in await collect(events_queue) if e["data"]["outcome"] != "progress"]
    assert len(finals) == 1


async def test_bad_messages_are_dead_lettered_while_the_batch_completes(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    ids = servers(emulator_config, 4)
    good = [backup_command(f"ok-{i}", [sid], vault="batch") for i, sid in enumerate(ids)]
    bad: list[bytes] = [b"not json", b'{"kind": "backup", "version": 9}', b'{"kind": "explode"}']
    await publish(connection, settings, good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3])
    await drain_worker(settings)
    counts = await store.count_by_status()
    assert counts == {WorkflowStatus.SUCCEEDED: 4}
    channel = await connection.channel()
    dlq = await channel.declare_queue(settings.names.dead_letter_queue, passive=True)
    reasons = []
    while (msg := await dlq.get(no_ack=True, fail=False)) is not None:
        reasons.append(str((msg.headers or {})[REASON_HEADER]))
    assert len(reasons) == 3
    assert sorted(r.split(":")[0] for r in reasons) == ["invalid", "malformed", "unsupported version"]
