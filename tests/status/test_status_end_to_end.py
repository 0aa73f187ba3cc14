"""``status`` after real runs on the emulator, read as a user reads it (the CLI in its own process, 120
columns): a backup's ids for each resource, checked against CBR; what a restore restored where; where a
replication went; a reply that could not be delivered; ``submit --wait`` of a single workflow."""

from __future__ import annotations

import asyncio
import json

from cli_runner import run_cli
from engine_helpers import (
    DEST,
    PROJECT,
    REGION,
    EndToEnd,
    backup_command,
    client_for,
    engine_env,
    tuned,
)

from cbr_emulator.config import DEFAULT_TENANT
from orchestrator.cbr.bodies import BillingCreate, VaultCreate
from orchestrator.messages import ReplicateCommand, RestoreCommand
from orchestrator.store import Workflow, WorkflowStatus
from orchestrator.worker import run_worker

TERMINAL = {"COLUMNS": "120"}


async def status_lines(e2e: EndToEnd, ref: str) -> list[str]:
    shown = await run_cli(e2e.settings.database_url, "status", ref, env=TERMINAL)
    assert (shown.code, shown.stderr) == (0, "")
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    return lines


def value_of(lines: list[str], label: str) -> str:
    """The value of a line ``label   value`` of a workflow's summary."""
    [line] = [x for x in lines if x.startswith(label + "  ")]
    return line[len(label) :].strip()


async def backed_up(e2e: EndToEnd, command_id: str, n: int, **over: str) -> Workflow:
    await e2e.publish(backup_command(command_id, e2e.servers(n), **over))
    await e2e.drain()
    wf = await e2e.workflow(command_id)
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    return wf


async def test_a_backup_shows_each_resource_with_the_backup_checkpoint_and_vault_cbr_holds(
    e2e: EndToEnd,
) -> None:
    wf = await backed_up(e2e, "backup-ids", 3)
    lines = await status_lines(e2e, "backup-ids")

    vault_name, vault_id = value_of(lines, "vault"), value_of(lines, "vault id")
    checkpoint_id = value_of(lines, "checkpoint")
    assert vault_name == "vault-e2e" and "succeeded · 100%" in value_of(lines, "status")
    async with client_for(e2e.emulator.base_url, DEFAULT_TENANT) as cbr:
        for server in e2e.servers(3):
            [heading] = [i for i, x in enumerate(lines) if x.startswith(f"{server} · server · succeeded · ")]
            block = {x.split()[0]: x.split()[1:] for x in lines[heading + 1 : heading + 4]}
            assert block["checkpoint"] == [checkpoint_id] and block["vault"] == [vault_name, vault_id]
            [backup_id] = block["backup"]
            backup = await cbr.show_backup(backup_id)  # what status says is what CBR holds
            held = (backup.resource_id, backup.checkpoint_id, backup.vault_id)
            assert held == (server, checkpoint_id, vault_id)
    assert wf.result is not None and wf.result["checkpoint_id"] == checkpoint_id


async def test_a_restore_shows_the_backup_restored_and_its_target(e2e: EndToEnd) -> None:
    wf = await backed_up(e2e, "to-restore", 1)
    assert wf.result is not None
    [server], [backup_id] = e2e.servers(1), [r["backup_id"] for r in wf.result["resources"]]
    async with client_for(e2e.emulator.base_url, DEFAULT_TENANT) as cbr:
        disks = [(c.id, c.resource_id) for c in (await cbr.show_backup(backup_id)).children]
    restore = {"command_id": "restore-1", "project_id": PROJECT, "region": REGION, "backup_id": backup_id}
    mappings = [{"backup_id": b, "volume_id": v} for b, v in disks]
    await e2e.publish(RestoreCommand.model_validate({**restore, "server_id": server, "mappings": mappings}))
    await e2e.drain()
    assert (await e2e.workflow("restore-1")).status is WorkflowStatus.SUCCEEDED

    lines = await status_lines(e2e, "restore-1")
    assert value_of(lines, "backup restored") == backup_id
    assert value_of(lines, "target server") == server
    assert value_of(lines, "status") == "succeeded · 100%"
    shown_disks = [x.split()[1:] for x in lines if x.startswith("disk ")]
    assert disks and shown_disks == [[b, "→", v] for b, v in disks]


async def test_a_replication_shows_where_the_replica_went(e2e: EndToEnd) -> None:
    wf = await backed_up(e2e, "to-replicate", 1)
    assert wf.result is not None
    [backup_id] = [r["backup_id"] for r in wf.result["resources"]]
    async with client_for(e2e.emulator.base_url, DEST) as dest:
        billing = BillingCreate(object_type="server", protect_type="replication", size=1000)
        vault = await dest.create_vault(VaultCreate(name="replicas", billing=billing))
        command = {
            "command_id": "replicate-1",
            "project_id": PROJECT,
            "region": REGION,
            "backup_id": backup_id,
            "destination_region": DEST.region,
            "destination_project_id": DEST.project_id,
            "destination_vault_id": vault.id,
        }
        await e2e.publish(ReplicateCommand.model_validate(command))
        await e2e.drain()
        lines = await status_lines(e2e, "replicate-1")
        replica = await dest.show_backup(value_of(lines, "destination backup"))
    assert replica.vault_id == vault.id  # the destination backup status names is in the destination vault
    assert value_of(lines, "source backup") == backup_id
    assert value_of(lines, "destination region") == DEST.region
    assert value_of(lines, "destination vault") == vault.id


async def test_a_reply_that_could_not_be_delivered_is_shown_parked_with_its_error(e2e: EndToEnd) -> None:
    quick_relay = tuned(e2e.settings, relay_poll_seconds=0.2, reply_attempts=2)
    await e2e.publish(backup_command("no-reply-queue", e2e.servers(1), reply_to="no-such-queue-here"))
    await asyncio.wait_for(run_worker(quick_relay, asyncio.Event(), drain=True), 30)

    lines = await status_lines(e2e, "no-reply-queue")
    assert value_of(lines, "reply to") == "no-such-queue-here · 0 of 1 delivered"
    parked = value_of(lines, "reply parked")
    assert parked.startswith("1 not delivered (parked 20") and parked.endswith("): unroutable (312 NO_ROUTE)")
    [event] = [x for x in lines if "workflow.backup.succeeded" in x]
    assert "parked after 2 tries" in event

    as_json = await run_cli(e2e.settings.database_url, "status", "no-reply-queue", "--json")
    [shown] = json.loads(as_json.stdout)["events"]
    assert (shown["reply"], shown["reply_error"]) == ("parked", "unroutable (312 NO_ROUTE)")


async def test_submit_wait_shows_a_single_workflow_as_one_line_with_its_percentage(e2e: EndToEnd) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(e2e.settings, stop))
    try:
        command = backup_command("waited-for", e2e.servers(2)).model_dump_json()
        env = {**engine_env(e2e.settings), **TERMINAL}
        waited = await run_cli(e2e.settings.database_url, "submit", "--json", command, "--wait", env=env)
    finally:
        stop.set()
        await worker
    assert (waited.code, waited.stderr) == (0, "")
    assert "backup · succeeded · 100%" in waited.stdout
    assert "0/?" not in waited.stdout
