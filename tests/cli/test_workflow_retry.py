"""`workflow retry ID`: a partly failed backup is retried as a new workflow under a derived command id for
its failed resource only — no second backup of the one already backed up —; retrying it again is a
duplicate; the first workflow and its one completion event stay as they were."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import aio_pika
import pytest
from cli_runner import run_cli
from quick_settings import AMQP_URL, emulator_settings

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import delete_topology, new_workflow
from orchestrator.config import Settings
from orchestrator.messages import command_from_json
from orchestrator.store import Store, WorkflowStatus
from orchestrator.worker import run_worker

PROJECT, REGION = DEFAULT_TENANT.project_id, DEFAULT_TENANT.region
# with this inventory seed and half of the backup tasks failing, the first of two servers' backups
# succeeds and the second fails, every time (the emulator draws failures from a seeded generator)
CONFIG = EmulatorConfig(
    inventory=Inventory(seed=0),
    progression=Progression(instant=True, base_seconds=0, waiting_seconds=0, failure_probability=0.5),
)
SERVERS = list(build_inventory(CONFIG.inventory, REGION, PROJECT).servers)[:2]


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(CONFIG)
    yield running
    await running.close()


@pytest.fixture
async def settings(dsn: str, emulator: RunningEmulator) -> AsyncIterator[Settings]:
    chosen = emulator_settings(dsn, emulator.base_url, prefix=f"test.retry.{uuid.uuid4().hex[:10]}")
    yield chosen
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), chosen.names)


def available_backups(emulator: RunningEmulator) -> Counter[str]:
    backups = emulator.emulator.world.project(REGION, PROJECT).backups.values()
    return Counter(b.resource_id for b in backups if b.status == "available" and b.resource_id in SERVERS)


async def drain(settings: Settings) -> None:
    await asyncio.wait_for(run_worker(settings, asyncio.Event(), drain=True), 60)


async def test_a_partly_failed_backup_is_retried_for_its_failed_resource_only(
    settings: Settings, store: Store, emulator: RunningEmulator
) -> None:
    command_id = f"retry-{uuid.uuid4().hex[:8]}"
    command = command_from_json(
        {
            "kind": "backup",
            "command_id": command_id,
            "project_id": PROJECT,
            "region": REGION,
            "vault": {"name": "retry", "create": {"size_gb": 1000}},
            "resources": [{"id": server} for server in SERVERS],
        }
    )
    await store.create_workflows_if_absent([new_workflow(command)])
    await drain(settings)
    first = await store.workflow_by_command(command_id)
    assert first is not None and first.status is WorkflowStatus.PARTIALLY_SUCCEEDED
    results = first.state["results"]
    backed_up, failed = (
        next(r for r in SERVERS if results[r]["status"] == s) for s in ("succeeded", "failed")
    )
    assert available_backups(emulator) == {backed_up: 1}

    emulator.emulator.set_progression(Progression.instantly())  # the cause is gone
    env = settings.as_environment()
    retried = await run_cli(settings.database_url, "workflow", "retry", command_id, env=env)
    assert retried.code == 0, retried.stderr
    assert (
        "retry recorded: workflow" in retried.stdout and f"(command {command_id}-retry-1)" in retried.stdout
    )
    assert f"{backed_up} left out: backed up" in retried.stdout
    await drain(settings)

    retry = await store.workflow_by_command(f"{command_id}-retry-1")
    assert retry is not None and retry.status is WorkflowStatus.SUCCEEDED, retry.error_message
    assert [r["id"] for r in retry.input["resources"]] == [failed]
    assert available_backups(emulator) == {backed_up: 1, failed: 1}  # no second backup of the first
    assert (retry.reply_to, retry.correlation_id) == (first.reply_to, first.correlation_id)

    again = await run_cli(settings.database_url, "workflow", "retry", first.id.hex, env=env)
    assert again.code == 0 and f"retried before as workflow {retry.id}" in again.stdout
    finished = await run_cli(settings.database_url, "workflow", "retry", f"{command_id}-retry-1", env=env)
    assert finished.code == 1 and "it is succeeded" in finished.stderr
    unknown = await run_cli(settings.database_url, "workflow", "retry", "no-such-command", env=env)
    assert unknown.code == 1 and "no workflow with id or command id" in unknown.stderr
    cancelled = await run_cli(settings.database_url, "workflow", "cancel", command_id, env=env)
    assert cancelled.code == 1 and "it already ended partially_succeeded" in cancelled.stderr

    unchanged = await store.workflow_by_command(command_id)
    assert unchanged is not None and unchanged.status is WorkflowStatus.PARTIALLY_SUCCEEDED
    assert len(await store.events_of(unchanged.id)) == 1
