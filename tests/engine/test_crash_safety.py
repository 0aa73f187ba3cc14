"""The checkpoint call is crash-safe: SIGKILL after the call, and a lost answer, give one checkpoint."""

from __future__ import annotations

import asyncio
import sys

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from engine_helpers import backup_command, collect, drain_worker, engine_env, publish, servers

from orchestrator.config import Settings
from orchestrator.emulator.config import EmulatorConfig
from orchestrator.emulator.faults import FaultPlan, FaultRule
from orchestrator.emulator.server import RunningEmulator
from orchestrator.store import Store, WorkflowStatus

WORKER = (
    "import asyncio, orchestrator.config as c, orchestrator.worker as w; "
    "asyncio.run(w.run_worker(c.Settings(), asyncio.Event(), drain=True))"
)


async def test_worker_killed_after_checkpoint_call_is_resumed_with_one_checkpoint(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    await publish(connection, settings, backup_command("crash-1", servers(emulator_config, 2)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        env=engine_env(settings, "after_cbr_create"),
    )
    assert await asyncio.wait_for(proc.wait(), 30) == -9  # SIGKILLed itself right after the call
    assert emulator.counters.requests_of("create_checkpoint") == 1
    wf = await store.workflow_by_command("crash-1")
    assert wf is not None
    assert wf.status is WorkflowStatus.RUNNING
    assert wf.state["checkpoint_maybe_created"] is True and wf.state["checkpoint_id"] is None

    await drain_worker(settings, owner="survivor")  # takes over once the dead worker's lease expires
    wf = await store.workflow_by_command("crash-1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert emulator.counters.requests_of("create_checkpoint") == 1
    operations = [s.step.operation for s in await store.steps_of(wf.id)]
    assert "FindCheckpoint" in operations
    assert "CreateCheckpoint" not in operations  # the dead worker never recorded it; nobody repeated it
    finals = [e for e in await collect(events_queue) if e["data"]["outcome"] != "progress"]
    assert len(finals) == 1


async def test_execute_then_time_out_gives_no_duplicate_checkpoint(
    settings: Settings,
    store: Store,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    connection: AbstractRobustConnection,
    events_queue: aio_pika.abc.AbstractQueue,
) -> None:
    emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(
                    operation="create_checkpoint",
                    timeout_probability=1.0,
                    hang_seconds=settings.cbr_timeout_seconds + 1,
                    max_faults=1,
                )
            ]
        )
    )
    await publish(connection, settings, backup_command("lost-answer", servers(emulator_config, 1)))
    await drain_worker(settings)
    wf = await store.workflow_by_command("lost-answer")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert emulator.counters.requests_of("create_checkpoint") == 1
    outcomes = [(s.step.operation, s.step.outcome.value) for s in await store.steps_of(wf.id)]
    assert ("CreateCheckpoint", "unknown") in outcomes
    assert ("FindCheckpoint", "ok") in outcomes
