"""The checkpoint call is crash-safe: SIGKILL after the call, and a lost answer, give one checkpoint."""

from __future__ import annotations

import asyncio
import sys

from engine_helpers import EndToEnd, backup_command, engine_env

from cbr_emulator.faults import FaultPlan, FaultRule
from orchestrator.store import WorkflowStatus

WORKER = (
    "import asyncio, orchestrator.config as c, orchestrator.worker as w; "
    "asyncio.run(w.run_worker(c.Settings(), asyncio.Event(), drain=True))"
)


async def test_worker_killed_after_checkpoint_call_is_resumed_with_one_checkpoint(
    e2e: EndToEnd,
) -> None:
    await e2e.publish(backup_command("crash-1", e2e.servers(2)))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        env=engine_env(e2e.settings, "after_cbr_create"),
    )
    assert await asyncio.wait_for(proc.wait(), 30) == -9  # SIGKILLed itself right after the call
    assert e2e.emulator.counters.requests_of("create_checkpoint") == 1
    wf = await e2e.workflow("crash-1")
    assert wf.status is WorkflowStatus.RUNNING
    assert wf.state["checkpoint_intent"] is not None and wf.state["checkpoint_id"] is None

    await e2e.drain(owner="survivor")  # takes over once the dead worker's lease expires
    wf = await e2e.workflow("crash-1")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert e2e.emulator.counters.requests_of("create_checkpoint") == 1
    operations = [s.step.operation for s in await e2e.store.steps_of(wf.id)]
    assert "FindCheckpoint" in operations
    assert "CreateCheckpoint" not in operations  # the dead worker never recorded it; nobody repeated it
    finals = await e2e.final_events()
    assert len(finals) == 1


async def test_execute_then_time_out_gives_no_duplicate_checkpoint(
    e2e: EndToEnd,
) -> None:
    e2e.emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(
                    operation="create_checkpoint",
                    timeout_probability=1.0,
                    hang_seconds=e2e.settings.cbr_timeout_seconds + 1,
                    max_faults=1,
                )
            ]
        )
    )
    await e2e.publish(backup_command("lost-answer", e2e.servers(1)))
    await e2e.drain()
    wf = await e2e.workflow("lost-answer")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert e2e.emulator.counters.requests_of("create_checkpoint") == 1
    outcomes = [(s.step.operation, s.step.outcome.value) for s in await e2e.store.steps_of(wf.id)]
    assert ("CreateCheckpoint", "unknown") in outcomes
    assert ("FindCheckpoint", "ok") in outcomes
