"""SIGTERM while calls are in flight: the worker drains, hands its leases back, then closes; the next
worker settles what was under way by lookups, and no command gets a second checkpoint."""

from __future__ import annotations

import aio_pika
from chaos_helpers import checkpoints_by_marker, ended, numbered_backups, publish, until
from crash_points import worker_process
from store_rows import raw_sql

from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.store import Store, WorkflowStatus

COMMANDS = 8


async def leases_held_by(store: Store, pid: int) -> int:
    """Unfinished workflows whose lease names the worker process ``pid``."""
    held: int = await raw_sql(store).fetchval(
        "SELECT count(*) FROM workflows WHERE lease_owner LIKE $1 AND finished_at IS NULL", f"worker-{pid}-%"
    )
    return held


def slow_cloud(settings: Settings) -> Settings:
    """Every CBR call takes 2.5 s here; calls may take 4 s, and leases are 5 s."""
    worker = settings.worker.model_copy(
        update={"lease_seconds": 5.0, "settle_seconds": 4.5, "drain_seconds": 0.5}
    )
    return settings.model_copy(update={"cbr_timeout_seconds": 4.0, "worker": worker})


async def test_sigterm_with_slow_calls_in_flight_gives_exactly_one_checkpoint_per_command(
    settings: Settings, broker: aio_pika.abc.AbstractConnection, emulator: RunningEmulator, store: Store
) -> None:
    """Before: at SIGTERM the heartbeat stopped while runs went on making calls; once their leases ran out
    the other worker took them over mid-call (and found no checkpoint yet: a second one), and the CBR
    session was closed under the calls still going (`Session is closed`)."""
    slow = slow_cloud(settings)
    emulator.faults.replace(FaultPlan(rules=[FaultRule(latency_seconds=2.5, latency_probability=1.0)]))
    for command in numbered_backups(emulator, COMMANDS, "stop", vaults=COMMANDS):
        await publish(broker, settings, command)
    async with worker_process(slow) as first, worker_process(slow) as second:
        await until(lambda: emulator.counters.requests_of("create_vault") > 0, 20)
        await second.started()
        assert await first.stop() == 0, first.log()
        assert "Session is closed" not in first.log()
        assert await leases_held_by(store, first.pid) == 0  # handed back: no lease left to expire
        for n in range(COMMANDS):
            status = await ended(store, f"stop-{n}", 60)
            wf = await store.workflow_by_command(f"stop-{n}")
            assert status is WorkflowStatus.SUCCEEDED, wf and (wf.error_code, wf.error_message)
    by_marker = checkpoints_by_marker(emulator)
    assert len(by_marker) == COMMANDS
    assert set(by_marker.values()) == {1}
