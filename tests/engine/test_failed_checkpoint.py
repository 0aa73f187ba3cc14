"""A checkpoint that fails is reported as failed, whether or not its backups are still listed."""

from __future__ import annotations

import asyncio

from engine_helpers import (
    PROJECT,
    REGION,
    EndToEnd,
    backup_command,
    emulator_project,
    eventually,
    slow_tasks,
)

from cbr_emulator.config import Progression
from cbr_emulator.operation import OperationRequest
from cbr_emulator.server import RunningEmulator
from orchestrator.store import WorkflowStatus


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
    e2e: EndToEnd,
) -> None:
    slow_tasks(e2e.emulator, seconds=60, failure_probability=1.0)
    await e2e.publish(backup_command("no-backups", e2e.servers(2)))
    worker = asyncio.create_task(e2e.drain(seconds=15))

    async def polling() -> bool:
        wf = await e2e.store.workflow_by_command("no-backups")
        return wf is not None and wf.state.get("phase") == "poll"

    await eventually(polling, 10)
    wf = await e2e.workflow("no-backups")
    fail_checkpoint_and_delete_its_backups(e2e.emulator, wf.state["checkpoint_id"])
    await worker  # without a look at the checkpoint itself, it would poll until the timeout

    wf = await e2e.workflow("no-backups")
    assert wf.status is WorkflowStatus.FAILED
    assert (wf.error_code, wf.error_message) == (
        "BackupService.no_backup",
        "checkpoint ended error without a backup of it",
    )
    assert wf.result is not None
    assert [(r["status"], r["backup_id"]) for r in wf.result["resources"]] == [("failed", None)] * 2
    shown = [s.step for s in await e2e.store.steps_of(wf.id) if s.step.operation == "ShowCheckpoint"]
    assert [s.response["status"] for s in shown if s.response] == ["error"]
    assert e2e.emulator.counters.requests_of("show_checkpoint") == 1
    [final] = await e2e.final_events()
    assert final["data"]["outcome"] == "failed"
    assert final["data"]["error_code"] == "BackupService.no_backup"


async def test_backups_failing_fail_the_workflow_without_reading_the_checkpoint(
    e2e: EndToEnd,
) -> None:
    failing = Progression.instantly().model_copy(update={"failure_probability": 1.0})
    e2e.emulator.emulator.set_progression(failing)
    await e2e.publish(backup_command("failing", e2e.servers(2)))
    await e2e.drain(seconds=15)
    wf = await e2e.workflow("failing")
    assert wf.status is WorkflowStatus.FAILED
    assert wf.error_code == "BackupService.backup_error"
    assert wf.result is not None
    assert all(r["status"] == "failed" and r["backup_id"] for r in wf.result["resources"])
    assert e2e.emulator.counters.requests_of("show_checkpoint") == 0  # the listed backups said it all
