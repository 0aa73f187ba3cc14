"""The engine against the emulator over HTTP: retries, unknown outcomes, deadlines, leases, several engines.

Every CBR call goes through the real client and ``CbrActions``; the precise situations come from the
emulator's fault rules, its clock and its task speed. Workflows are committed straight into the store
(no broker), and engines run until none is unfinished.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import (
    backup_command,
    checkpoint_count,
    emulator_project,
    eventually,
    run_engine_process,
    run_until_done,
    running_engines,
    servers,
    slow_tasks,
    submit,
    tuned,
)

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.engine import RetryPolicy
from orchestrator.messages import BackupCommand
from orchestrator.store import Store, Workflow, WorkflowStatus
from orchestrator.workflows.base import Sleep

BUSY = {"error_probability": 1.0, "error_status": 400, "error_code": "BackupService.6125"}


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """A clock that moves only when a test moves it; tasks end at once unless a test slows them."""
    return EmulatorConfig(
        manual_clock=True, progression=Progression.instantly(), inventory=Inventory(servers=30)
    )


async def workflow_of(store: Store, command_id: str) -> Workflow:
    wf = await store.workflow_by_command(command_id)
    assert wf is not None
    return wf


async def all_finished(store: Store) -> bool:
    return await store.unfinished_count() == 0


async def operations(store: Store, wf: Workflow) -> list[str]:
    return [s.step.operation for s in await store.steps_of(wf.id)]


async def outcomes(store: Store, wf: Workflow) -> list[tuple[str, str]]:
    return [(s.step.operation, s.step.outcome.value) for s in await store.steps_of(wf.id)]


async def test_backup_succeeds_with_final_state_event_and_steps(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    ids = servers(emulator_config, 2)
    slow_tasks(emulator, seconds=60)
    await submit(store, backup_command("c1", ids, description="d"))

    async def polled_once() -> bool:
        wf = await workflow_of(store, "c1")
        return "PollCheckpoint" in await operations(store, wf)

    async with running_engines(store, tuned(settings, status_poll_seconds=1.0), "solo"):
        await eventually(polled_once, 10)
        emulator.clock.advance(120)  # the backups end before the next poll, a second away
        await eventually(lambda: all_finished(store), 10)

    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.result is not None
    project = emulator_project(emulator)
    checkpoint = project.checkpoints[wf.result["checkpoint_id"]]
    backup_of = {project.backups[b].resource_id: b for b in checkpoint.backup_ids}
    assert [r["backup_id"] for r in wf.result["resources"]] == [backup_of[s] for s in ids]
    assert all(r["size_gb"] for r in wf.result["resources"])
    events = await store.events_of(wf.id)
    assert [e.body["data"]["outcome"] for e in events] == ["succeeded"]
    assert events[0].event_id == events[0].body["id"]
    steps = await store.steps_of(wf.id)
    assert [s.step.operation for s in steps] == [
        "FindVault",
        "FindVault",
        "CreateVault",
        "CreateCheckpoint",
        "PollCheckpoint",
        "PollCheckpoint",
    ]
    assert [s.step.response["status"] for s in steps[-2:] if s.step.response] == ["protecting", "available"]


async def test_busy_answers_are_waited_out(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(operation="create_checkpoint", max_faults=3, **BUSY),
                FaultRule(operation="list_backups", max_faults=1, **BUSY),
            ]
        )
    )
    await submit(store, backup_command("c1", servers(emulator_config, 1)))
    await run_until_done(store, settings, "solo")
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.attempts >= 5  # claimed again after every back-off
    recorded = await outcomes(store, wf)
    assert [op for op, outcome in recorded if outcome == "retry_later"] == ["CreateCheckpoint"] * 3 + [
        "PollCheckpoint"
    ]
    assert emulator.counters.snapshot()["faults"]["total"] == 4
    assert emulator.counters.requests_of("create_checkpoint") == 4  # three refused, one executed
    assert checkpoint_count(emulator) == 1


async def test_terminal_error_fails_with_the_cbr_code(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(
                    operation="create_checkpoint",
                    error_probability=1.0,
                    error_status=400,
                    error_code="BackupService.6114",
                    error_message="vault capacity exceeded",
                )
            ]
        )
    )
    await submit(store, backup_command("c1", servers(emulator_config, 1)))
    await run_until_done(store, settings, "solo")
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.FAILED
    assert (wf.error_code, wf.error_message) == ("BackupService.6114", "vault capacity exceeded")
    [event] = await store.events_of(wf.id)
    assert event.body["data"]["error_code"] == "BackupService.6114"
    assert emulator.counters.requests_of("create_checkpoint") == 1  # never repeated
    assert checkpoint_count(emulator) == 0


async def test_unknown_vault_fails_with_the_cbr_code(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    by_name = backup_command("c1", servers(emulator_config, 1)).model_dump(mode="json")
    missing = {"id": "00000000-0000-4000-8000-000000000000"}
    await submit(store, BackupCommand.model_validate({**by_name, "vault": missing}))
    await run_until_done(store, settings, "solo")
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.FAILED
    assert wf.error_code == "BackupService.6105"
    assert await outcomes(store, wf) == [("ShowVault", "terminal")]
    [event] = await store.events_of(wf.id)
    assert event.body["data"]["error_code"] == "BackupService.6105"
    assert emulator.counters.requests_of("create_checkpoint") == 0


async def test_lost_checkpoint_answer_never_creates_a_second_checkpoint(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    quick = settings.model_copy(update={"cbr_timeout_seconds": 0.5})
    emulator.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(
                    operation="create_checkpoint", timeout_probability=1.0, hang_seconds=1.5, max_faults=1
                )
            ]
        )
    )
    await submit(store, backup_command("c1", servers(emulator_config, 1)))
    await run_until_done(store, quick, "solo")
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert checkpoint_count(emulator) == 1
    assert emulator.counters.requests_of("create_checkpoint") == 1
    assert emulator.counters.snapshot()["faults"]["by_kind"] == {"timeout": 1}  # executed, answer lost
    recorded = await outcomes(store, wf)
    assert ("CreateCheckpoint", "unknown") in recorded
    assert [op for op, _ in recorded].count("FindCheckpoint") == 1
    assert wf.result is not None
    assert wf.result["checkpoint_id"] in emulator_project(emulator).checkpoints


async def test_deadline_expires_an_unfinished_workflow(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    slow_tasks(emulator, seconds=3600)  # and the clock never moves: the backup never ends
    deadline = datetime.now(UTC) + timedelta(seconds=0.6)
    await submit(store, backup_command("c1", servers(emulator_config, 1), deadline=deadline.isoformat()))
    await run_until_done(store, settings, "solo")
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.EXPIRED
    assert wf.finished_at is not None
    assert wf.finished_at - deadline < timedelta(seconds=2)
    assert "CreateCheckpoint" in await operations(store, wf)  # it was under way, not refused
    [event] = await store.events_of(wf.id)
    assert event.routing_key == "workflow.backup.expired"


async def test_two_engines_share_a_batch_without_duplicate_calls(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    ids = servers(emulator_config, 30)
    await submit(store, *(backup_command(f"c{i}", [sid], vault=f"v{i}") for i, sid in enumerate(ids)))
    await run_until_done(store, tuned(settings, concurrency=4), "one", "two", seconds=40)
    assert emulator.counters.requests_of("create_checkpoint") == 30
    assert emulator.counters.requests_of("create_vault") == 30
    assert checkpoint_count(emulator) == 30
    assert await store.count_by_status() == {WorkflowStatus.SUCCEEDED: 30}
    workers = {s.worker for wf in await store.list_workflows(limit=100) for s in await store.steps_of(wf.id)}
    assert workers == {"one", "two"}


async def test_dead_workers_workflow_is_taken_over_after_its_lease(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    await submit(store, backup_command("c1", servers(emulator_config, 1)))
    [claimed] = await store.claim_due("dead-worker", 0.5, 10)  # claims, then dies without a trace
    await run_until_done(store, settings, "alive")
    wf = await store.get_workflow(claimed.id)
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert {s.worker for s in await store.steps_of(wf.id)} == {"alive"}
    assert checkpoint_count(emulator) == 1


async def test_crash_between_checkpoint_call_and_commit_is_reconciled(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """An engine process's checkpoint call reaches the cloud, then the process dies before recording it."""
    await submit(store, backup_command("c1", servers(emulator_config, 1)))
    doomed = tuned(settings, lease_seconds=3.0)
    assert await run_engine_process(doomed, "doomed", crash_at="after_cbr_create") == -signal.SIGKILL
    assert checkpoint_count(emulator) == 1
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.RUNNING
    assert wf.state["checkpoint_intent"] is not None and wf.state["checkpoint_id"] is None

    await run_until_done(store, settings, "survivor")
    wf = await workflow_of(store, "c1")
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert checkpoint_count(emulator) == 1
    assert emulator.counters.requests_of("create_checkpoint") == 1
    ops = await operations(store, wf)
    assert ops.count("FindCheckpoint") == 1
    assert "CreateCheckpoint" not in ops  # the dead engine never recorded it; nobody repeated it


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=30, poll_seconds=5)
    assert policy.delay(Sleep("poll")) == 5
    assert policy.delay(Sleep("busy", 1), rand=lambda: 1.0) == 1
    assert policy.delay(Sleep("busy", 3), rand=lambda: 0.0) == 2
    assert policy.delay(Sleep("busy", 20), rand=lambda: 1.0) == 30
    assert policy.delay(Sleep("busy", 1, at_least=7), rand=lambda: 1.0) == 7
