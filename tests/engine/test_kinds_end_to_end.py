"""Restore and replicate end to end; duplicates; bad input beside a good batch."""

from __future__ import annotations

import pytest
from engine_helpers import (
    DEST,
    PROJECT,
    REGION,
    EndToEnd,
    backup_command,
    client_for,
    collect,
)

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from orchestrator.broker import REASON_HEADER
from orchestrator.cbr.bodies import BillingCreate, VaultCreate
from orchestrator.messages import ReplicateCommand, RestoreCommand
from orchestrator.store import WorkflowStatus


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(tenants=[DEFAULT_TENANT, DEST], progression=Progression.instantly())


async def backed_up(e2e: EndToEnd, ids: list[str]) -> list[str]:
    await e2e.publish(backup_command("first-backup", ids))
    await e2e.drain()
    wf = await e2e.workflow("first-backup")
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.result is not None
    return [r["backup_id"] for r in wf.result["resources"]]


async def test_restore_end_to_end(
    e2e: EndToEnd,
) -> None:
    [server] = e2e.servers(1)
    [backup_id] = await backed_up(e2e, [server])
    async with client_for(e2e.emulator.base_url, DEFAULT_TENANT) as cbr:
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
    await e2e.publish(command)
    await e2e.drain()
    wf = await e2e.workflow("restore-1")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert e2e.emulator.counters.requests_of("restore_backup") == 1
    finals = [e for e in await collect(e2e.events_queue) if e["data"]["kind"] == "restore"]
    assert [e["data"]["outcome"] for e in finals if e["data"]["outcome"] != "progress"] == ["succeeded"]


async def test_replicate_end_to_end_records_the_destination_backup(
    e2e: EndToEnd,
) -> None:
    [server] = e2e.servers(1)
    [backup_id] = await backed_up(e2e, [server])
    async with client_for(e2e.emulator.base_url, DEST) as dest:
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
    await e2e.publish(command)
    await e2e.drain()
    wf = await e2e.workflow("rep-1")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None
    assert wf.result["destination_backup_id"]
    async with client_for(e2e.emulator.base_url, DEST) as dest:
        replica = await dest.show_backup(wf.result["destination_backup_id"])
    assert replica.image_type == "replication"
    events = [e for e in await collect(e2e.events_queue) if e["data"]["kind"] == "replicate"]
    assert events[-1]["data"]["destination_backup_id"] == wf.result["destination_backup_id"]


async def test_command_published_three_times_gives_one_workflow_and_one_event(
    e2e: EndToEnd,
) -> None:
    command = backup_command("dup-1", e2e.servers(1))
    await e2e.publish(command, command, command)
    await e2e.drain()
    await e2e.publish(command)  # even after it finished
    await e2e.drain()
    assert len(await e2e.store.list_workflows()) == 1
    assert e2e.emulator.counters.requests_of("create_checkpoint") == 1
    finals = await e2e.final_events()
    assert len(finals) == 1


async def test_bad_messages_are_dead_lettered_while_the_batch_completes(
    e2e: EndToEnd,
) -> None:
    ids = e2e.servers(4)
    good = [backup_command(f"ok-{i}", [sid], vault="batch") for i, sid in enumerate(ids)]
    bad: list[bytes] = [b"not json", b'{"kind": "backup", "version": 9}', b'{"kind": "explode"}']
    await e2e.publish(good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3])
    await e2e.drain()
    counts = await e2e.store.count_by_status()
    assert counts == {WorkflowStatus.SUCCEEDED: 4}
    channel = await e2e.connection.channel()
    dlq = await channel.declare_queue(e2e.settings.names.dead_letter_queue, passive=True)
    reasons = []
    while (msg := await dlq.get(no_ack=True, fail=False)) is not None:
        reasons.append(str((msg.headers or {})[REASON_HEADER]))
    assert len(reasons) == 3
    assert sorted(r.split(":")[0] for r in reasons) == ["invalid", "malformed", "unsupported version"]
