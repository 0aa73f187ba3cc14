"""SIGTERM to a `cbr-orchestrator worker` process while its workflow waits on a slow CBR call: the worker
drains for CBR_ORCH_WORKER__DRAIN_SECONDS, stops the run, hands its lease back in the database (not left
to expire) and exits 0; a second worker takes the workflow over at once and finishes it with exactly one
backup in the emulator."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import asyncpg
import pytest
from cli_runner import line_with, run_cli, start_cli
from quick_settings import AMQP_URL, emulator_settings, quick_worker

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Progression
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.inventory import build_inventory
from cbr_emulator.server import RunningEmulator, start_emulator
from orchestrator.broker import delete_topology
from orchestrator.config import Settings

LEASE_SECONDS = 40.0  # far longer than the test waits for the takeover: only a hand-back explains it
SLOW_CALL_SECONDS = 15.0
DRAIN_SECONDS = 1.0
POLL_OPERATIONS = ("list_op_logs", "list_backups", "show_checkpoint")


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EmulatorConfig(progression=Progression.instantly()))
    yield running
    await running.close()


@pytest.fixture
async def settings(dsn: str, emulator: RunningEmulator) -> AsyncIterator[Settings]:
    worker = quick_worker(
        lease_seconds=LEASE_SECONDS, settle_seconds=25.0, drain_seconds=DRAIN_SECONDS, heartbeat_seconds=2.0
    )
    chosen = emulator_settings(
        dsn,
        emulator.base_url,
        prefix=f"test.drain.{uuid.uuid4().hex[:10]}",
        worker=worker,
        cbr_timeout_seconds=SLOW_CALL_SECONDS + 5,
    )
    yield chosen
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        await delete_topology(await connection.channel(), chosen.names)


def worker_env(settings: Settings) -> dict[str, str]:
    return {**settings.as_environment(), "CBR_ORCH_METRICS__PORT": "0"}


async def workflow_row(dsn: str, command_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT status, lease_owner, lease_expires_at, state->>'checkpoint_id' AS checkpoint_id"
            " FROM workflows WHERE command_id = $1",
            command_id,
        )
    finally:
        await conn.close()
    assert row is not None
    return row


async def until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


async def stop(worker: asyncio.subprocess.Process) -> int:
    if worker.returncode is None:
        worker.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(worker.wait(), 30)


async def test_sigterm_hands_the_lease_back_and_another_worker_finishes_with_one_backup(
    dsn: str, settings: Settings, emulator: RunningEmulator
) -> None:
    slow_polls = [
        FaultRule(operation=op, latency_seconds=SLOW_CALL_SECONDS, latency_probability=1.0)
        for op in POLL_OPERATIONS
    ]
    emulator.faults.replace(FaultPlan(rules=slow_polls))
    server = next(
        iter(
            build_inventory(
                EmulatorConfig().inventory, DEFAULT_TENANT.region, DEFAULT_TENANT.project_id
            ).servers
        )
    )
    command = {
        "kind": "backup",
        "command_id": f"drain-{uuid.uuid4().hex[:8]}",
        "project_id": DEFAULT_TENANT.project_id,
        "region": DEFAULT_TENANT.region,
        "vault": {"name": "drain", "create": {"size_gb": 1000}},
        "resources": [{"id": server}],
    }
    first = await start_cli(dsn, "worker", env=worker_env(settings))
    second: asyncio.subprocess.Process | None = None
    try:
        await line_with(first.stderr, "started")
        submitted = await run_cli(dsn, "submit", "--json", json.dumps(command), env=worker_env(settings))
        assert submitted.code == 0, submitted.stderr

        async def polling() -> bool:
            row = await workflow_row(dsn, command["command_id"])
            return row["checkpoint_id"] is not None and emulator.counters.requests_of("list_op_logs") > 0

        await until(polling, 20)
        held = await workflow_row(dsn, command["command_id"])
        assert held["lease_owner"] is not None and held["status"] == "running"

        signalled = time.monotonic()
        assert await stop(first) == 0
        assert time.monotonic() - signalled < DRAIN_SECONDS + 10  # the slow call was not waited out
        released = await workflow_row(dsn, command["command_id"])
        assert (released["lease_owner"], released["lease_expires_at"]) == (None, None)
        assert released["status"] == "running"

        emulator.faults.replace(FaultPlan())
        taken_over = time.monotonic()
        second = await start_cli(dsn, "worker", env=worker_env(settings))

        async def succeeded() -> bool:
            return (await workflow_row(dsn, command["command_id"]))["status"] == "succeeded"

        await until(succeeded, 30)
        assert time.monotonic() - taken_over < LEASE_SECONDS  # taken over, not after the lease expired
        assert emulator.counters.requests_of("create_checkpoint") == 1
        checkpoints = emulator.emulator.world.project(
            DEFAULT_TENANT.region, DEFAULT_TENANT.project_id
        ).checkpoints
        assert len(checkpoints) == 1
        assert await stop(second) == 0
    finally:
        for worker in (first, second):
            if worker is not None and worker.returncode is None:
                worker.kill()
                await worker.wait()
