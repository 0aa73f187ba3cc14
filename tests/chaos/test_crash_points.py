"""The crash-point harness: a worker process that SIGKILLs itself at a named point, and one that does not."""

from __future__ import annotations

import aio_pika
import pytest
from chaos_helpers import (
    all_published,
    backup_command,
    checkpoints_by_marker,
    checkpoints_held,
    collect,
    ended,
    numbered_backups,
    publish,
)
from crash_points import CRASH_POINTS, KILLED, run_until_crash, worker_process

from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.store import Store, WorkflowStatus


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


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_a_crash_at_each_named_point_loses_and_doubles_nothing(
    point: str,
    settings: Settings,
    broker: aio_pika.abc.AbstractConnection,
    emulator: RunningEmulator,
    store: Store,
) -> None:
    """SIGKILL after the CBR call, after the commit before the ack, mid relay batch, mid poll: a survivor
    finishes every command with one checkpoint and one distinct final event each."""
    channel = await broker.channel()
    events = await channel.declare_queue(exclusive=True)
    await events.bind(settings.names.events_exchange, routing_key="#")
    commands = numbered_backups(emulator, 4, point)
    for command in commands:
        await publish(broker, settings, command)
    outcome = await run_until_crash(settings, point)
    assert outcome.killed_itself, outcome.log
    async with worker_process(settings):
        for command in commands:
            assert await ended(store, command.command_id, 40) is WorkflowStatus.SUCCEEDED
        await all_published(store, 20)
    finals = [e for e in await collect(events) if e["data"]["outcome"] != "progress"]
    assert {e["data"]["command_id"] for e in finals} == {c.command_id for c in commands}
    assert len({e["id"] for e in finals}) == len(commands)  # redelivered maybe, never a second event
    by_marker = checkpoints_by_marker(emulator)
    assert len(by_marker) == len(commands) and set(by_marker.values()) == {1}
