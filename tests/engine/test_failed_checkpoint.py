"""A checkpoint that fails is reported as failed, whether or not its backups are still listed."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from engine_helpers import (
    PROJECT,
    REGION,
    backup_command,
    collect,
    drain_worker,
    emulator_project,
    eventually,
    publish,
    servers,
    slow_tasks,
)

from orchestrator.config import Settings
from orchestrator.emulator.config import EmulatorConfig, Progression
from orchestrator.emulator.server import RunningEmulator
from orchestrator.emulator.service import OperationRequest
from orchestrator.store import Store, WorkflowStatus


def fail_checkpoint_and_delete_its_backups(running: RunningEmulator, checkpoint_id: str) -> None:
    """End the checkpoint's backups in error, then delete them: the checkpoint is left in error, alone.

    Synchronous, inside the emulator's domain, so no poll can come in between and see the backups.
    """
    project = emulator_project(running)
    checkpoint = project.checkpoints[checkpoint_id]
    running.clock.advance(120)
    for backup_id in list(checkpoint.backup_ids):
        delete = OperationRequest(REGION, PROJECT, "delete_backup", path={"backup_id": backup_id})
        running.emulator.handle(delete)
    running.clock.advance(120)
    running.emulator.tick()
    assert checkpoint.status == "error"
    assert not [b for b in project.backups.values() if b.checkpoint_id == checkpoint_id]


async def test_checkpoint_failed_without_backups_ends_the_workflow_failed(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    slow_tasks(emulator, seconds=60, failure_probability=1.0)
    await publish(connection, settings, backup_command("no-backups", servers(emulator_config, 2)))
    worker = asyncio.create_task(drain_worker(settings, seconds=15))

    async def polling() -> bool:
        wf = await store.workflow_by_command("no-backups")
        return wf is not None and wf.state.get("phase") == "poll"

    await eventually(polling, 10)
    wf = await store.workflow_by_command("no-backups")
    assert wf is not None
    fail_checkpoint_and_delete_its_backups(emulator, wf.state["checkpoint_id"])
    await worker  # without a look at the checkpoint itself, it would poll until the timeout

    wf = await store.workflow_by_command("no-backups")
    assert wf is not None
    assert wf.status is WorkflowStatus.FAILED
    assert (wf.error_code, wf.error_message) == (
        "BackupService.no_backup",
        "checkpoint ended error without a backup of it",
    )
    assert wf.result is not None
    assert [(r["status"], r["backup_id"]) for r in wf.result["resources"]] == [("failed", None)] * 2
    shown = [s.step for s in await store.steps_of(wf.id) if s.step.operation == "ShowCheckpoint"]
    assert [s.response["status"] for s in shown if s.response] == ["error"]
    assert emulator.counters.requests_of("show_checkpoint") == 1
    [final] = [e for e in await collect(events_queue) if e["data"]["outcome"] != "progress"]
    assert final["data"]["outcome"] == "failed"
    assert final["data"]["error_code"] == "BackupService.no_backup"


async def test_backups_failing_fail_the_workflow_without_reading_the_checkpoint(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    emulator.emulator.set_progression(Progression.instantly().model_copy(update={"failure_probability": 1.0}))
    await publish(connection, settings, backup_command("failing", servers(emulator_config, 2)))
    await drain_worker(settings, seconds=15)
    wf = await store.workflow_by_command("failing")
    assert wf is not None
    assert wf.status is WorkflowStatus.FAILED
    assert wf.error_code == "BackupService.backup_error"
    assert wf.result is not None
    assert all(r["status"] == "failed" and r["backup_id"] for r in wf.result["resources"])
    assert emulator.counters.requests_of("show_checkpoint") == 0  # the listed backups said it all
