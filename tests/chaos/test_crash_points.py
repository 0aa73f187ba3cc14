"""The crash-point harness: a worker process that SIGKILLs itself at a named point, and one that does not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
from chaos_helpers import backup_command, checkpoints_held, ended, publish
from crash_points import KILLED, run_until_crash, worker_process

from orchestrator.config import Settings
from orchestrator.emulator.server import RunningEmulator
from orchestrator.store import Store, WorkflowStatus


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[Store]:
    opened = await Store.connect(dsn)
    yield opened
    await opened.close()


async def test_worker_killed_at_a_named_point_then_a_survivor_finishes(
    settings: Settings,
    broker: aio_pika.abc.AbstractConnection,
    emulator: RunningEmulator,
    store: Store,
) -> None:
    await publish(broker, settings, backup_command("crash-harness", emulator))
    outcome = await run_until_crash(settings, "after_cbr_create")
    assert outcome.exit_code == KILLED and outcome.killed_itself, outcome.log
    assert emulator.counters.requests_of("create_checkpoint") == 1  # it died right after the call
    workflow = await store.workflow_by_command("crash-harness")
    assert workflow is not None and workflow.status is WorkflowStatus.RUNNING

    async with worker_process(settings) as survivor:
        assert await ended(store, "crash-harness", 30) is WorkflowStatus.SUCCEEDED
    assert survivor.proc.returncode == 0, survivor.log()  # stopped with SIGTERM, cleanly
    assert checkpoints_held(emulator) == 1


async def test_a_point_never_reached_leaves_the_worker_running_until_stopped(
    settings: Settings, broker: aio_pika.abc.AbstractConnection
) -> None:
    async with worker_process(settings, crash_at="no_such_point") as worker:
        await worker.started()
        assert await worker.exit_code(within=1) is None  # still running
        assert await worker.stop() == 0, worker.log()  # SIGTERM: a clean stop
    assert "stopped" in worker.log()
