"""The engine against an in-memory cloud: retries, unknown outcomes, deadlines, leases, several workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import backup_command
from fake_cloud import FakeCloud, busy, lost, terminal

from orchestrator.broker import new_workflow
from orchestrator.config import Settings
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.messages import BackupCommand
from orchestrator.store import Store, WorkflowStatus
from orchestrator.workflows.base import Sleep


async def submit(store: Store, *commands: BackupCommand) -> None:
    for command in commands:
        await store.create_workflow_if_absent(new_workflow(command))


async def _all_finished(store: Store) -> bool:
    return await store.unfinished_count() == 0


async def eventually(predicate: Callable[[], Awaitable[bool]], seconds: float, step: float = 0.05) -> None:
    """Poll ``predicate`` (the database has no event to wait on here) until true or ``seconds`` pass."""
    for _ in range(int(seconds / step)):
        if await predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


async def run_until_done(store: Store, *engines: Engine, seconds: float = 20) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in engines]
    try:
        await eventually(lambda: _all_finished(store), seconds)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_backup_succeeds_with_final_state_event_and_steps(store: Store, settings: Settings) -> None:
    cloud = FakeCloud(polls_until_done=2)
    await submit(store, backup_command("c1", ["s1", "s2"], description="d"))
    await run_until_done(store, Engine(store, settings, cloud))
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.result is not None
    assert [r["backup_id"] for r in wf.result["resources"]] == ["cp2-s1", "cp2-s2"]
    events = await store.events_of(wf.id)
    assert [e.body["data"]["outcome"] for e in events] == ["succeeded"]
    assert events[0].event_id == events[0].body["id"]
    ops = [s.step.operation for s in await store.steps_of(wf.id)]
    assert ops == [
        "FindVault",
        "FindVault",
        "CreateVault",
        "CreateCheckpoint",
        "PollCheckpoint",
        "PollCheckpoint",
    ]


async def test_busy_answers_are_waited_out(store: Store, settings: Settings) -> None:
    cloud = FakeCloud(
        faults={"CreateCheckpoint": [busy("create_checkpoint")] * 3, "PollCheckpoint": [busy("list_backups")]}
    )
    await submit(store, backup_command("c1", ["s1"]))
    await run_until_done(store, Engine(store, settings, cloud))
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert wf.attempts >= 5  # claimed again after every back-off
    outcomes = [s.step.outcome.value for s in await store.steps_of(wf.id)]
    assert outcomes.count("retry_later") == 4
    assert len(cloud.checkpoints) == 1


async def test_terminal_error_fails_with_the_cbr_code(store: Store, settings: Settings) -> None:
    cloud = FakeCloud(faults={"CreateCheckpoint": [terminal("create_checkpoint")]})
    await submit(store, backup_command("c1", ["s1"]))
    await run_until_done(store, Engine(store, settings, cloud))
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.status is WorkflowStatus.FAILED
    assert (wf.error_code, wf.error_message) == ("BackupService.6114", "vault capacity exceeded")
    [event] = await store.events_of(wf.id)
    assert event.body["data"]["error_code"] == "BackupService.6114"


async def test_lost_checkpoint_answer_never_creates_a_second_checkpoint(
    store: Store, settings: Settings
) -> None:
    cloud = FakeCloud(faults={"CreateCheckpoint": [lost("create_checkpoint")]})
    await submit(store, backup_command("c1", ["s1"]))
    await run_until_done(store, Engine(store, settings, cloud))
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert len(cloud.checkpoints) == 1
    assert cloud.calls["CreateCheckpoint"] == 1
    assert cloud.calls["FindCheckpoint"] == 1
    recorded = [(s.step.operation, s.step.outcome.value) for s in await store.steps_of(wf.id)]
    assert ("CreateCheckpoint", "unknown") in recorded


async def test_deadline_expires_an_unfinished_workflow(store: Store, settings: Settings) -> None:
    cloud = FakeCloud(polls_until_done=10_000)
    deadline = datetime.now(UTC) + timedelta(seconds=0.6)
    await submit(store, backup_command("c1", ["s1"], deadline=deadline.isoformat()))
    await run_until_done(store, Engine(store, settings, cloud))
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.status is WorkflowStatus.EXPIRED
    assert wf.finished_at is not None
    assert wf.finished_at - deadline < timedelta(seconds=2)
    [event] = await store.events_of(wf.id)
    assert event.routing_key == "workflow.backup.expired"


async def test_two_engines_share_a_batch_without_duplicate_calls(store: Store, settings: Settings) -> None:
    cloud = FakeCloud(latency=0.01)
    await submit(store, *(backup_command(f"c{i}", [f"s{i}"], vault=f"v{i}") for i in range(30)))
    small = settings.model_copy(update={"worker": settings.worker.model_copy(update={"concurrency": 4})})
    one, two = Engine(store, small, cloud, "one"), Engine(store, small, cloud, "two")
    await run_until_done(store, one, two)
    assert cloud.calls["CreateCheckpoint"] == 30
    assert cloud.calls["CreateVault"] == 30
    counts = await store.count_by_status()
    assert counts == {WorkflowStatus.SUCCEEDED: 30}
    workers = {s.worker for wf in await store.list_workflows(limit=100) for s in await store.steps_of(wf.id)}
    assert workers == {"one", "two"}


async def test_dead_workers_workflow_is_taken_over_after_its_lease(store: Store, settings: Settings) -> None:
    cloud = FakeCloud()
    await submit(store, backup_command("c1", ["s1"]))
    [claimed] = await store.claim_due("dead-worker", 0.5, 10)  # claims, then dies without a trace
    engine = Engine(store, settings, cloud, "alive")
    await run_until_done(store, engine)
    wf = await store.get_workflow(claimed.id)
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert {s.worker for s in await store.steps_of(wf.id)} == {"alive"}


async def test_crash_between_checkpoint_call_and_commit_is_reconciled(
    store: Store, settings: Settings
) -> None:
    """The first engine's create reaches the cloud, then the engine dies before recording the answer."""
    cloud = FakeCloud()
    await submit(store, backup_command("c1", ["s1"]))

    class Dies(FakeCloud):
        async def dispatch(self, project: str, region: str, req):  # type: ignore[no-untyped-def, override]
            observation = await cloud.dispatch(project, region, req)
            if type(req).__name__ == "CreateCheckpoint":
                raise asyncio.CancelledError  # the process is gone: nothing after this point runs
            return observation

    doomed = Engine(
        store,
        settings.model_copy(update={"worker": settings.worker.model_copy(update={"lease_seconds": 0.5})}),
        Dies(),
        "doomed",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(doomed.run(stop))
    await eventually(lambda: _has_checkpoint(cloud), 10)
    stop.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await run_until_done(store, Engine(store, settings, cloud, "survivor"))
    wf = await store.workflow_by_command("c1")
    assert wf is not None
    assert wf.status is WorkflowStatus.SUCCEEDED
    assert len(cloud.checkpoints) == 1
    assert cloud.calls["FindCheckpoint"] == 1


async def _has_checkpoint(cloud: FakeCloud) -> bool:
    return bool(cloud.checkpoints)


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=30, poll_seconds=5)
    assert policy.delay(Sleep("poll")) == 5
    assert policy.delay(Sleep("busy", 1), rand=lambda: 1.0) == 1
    assert policy.delay(Sleep("busy", 3), rand=lambda: 0.0) == 2
    assert policy.delay(Sleep("busy", 20), rand=lambda: 1.0) == 30
    assert policy.delay(Sleep("busy", 1, at_least=7), rand=lambda: 1.0) == 7
