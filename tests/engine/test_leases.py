"""Leases: a run whose lease passed on stops at once; a call that is not idempotent needs lease left."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from engine_helpers import backup_command, client_for, eventually, running_engines, servers, submit
from store_rows import raw_sql

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.bodies import CheckpointParameters
from orchestrator.cbr.transport import SEND_GUARD
from orchestrator.config import Settings
from orchestrator.engine import Leases
from orchestrator.store import LeaseLost, Store


async def eventually_sync(predicate: Callable[[], bool], seconds: float) -> None:
    async def holds() -> bool:
        return predicate()

    await eventually(holds, seconds)


async def steal(store: Store, command_id: str) -> None:
    """Another claim takes the workflow (as after this worker was thought dead)."""
    await raw_sql(store).execute(
        "UPDATE workflows SET lease_owner = 'thief', lease_epoch = lease_epoch + 1,"
        " lease_expires_at = now() + interval '1 hour' WHERE command_id = $1",
        command_id,
    )


async def test_a_run_whose_lease_passed_to_another_claim_stops_before_its_next_call(
    store: Store,
    settings: Settings,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow_lookup = FaultRule(
        operation="list_vault", latency_seconds=2.0, latency_probability=1.0, max_faults=1
    )
    emulator.faults.replace(FaultPlan(rules=[slow_lookup]))
    await submit(store, backup_command("stolen", servers(emulator_config, 1)))
    async with running_engines(store, settings, "victim"):
        await eventually_sync(lambda: emulator.counters.requests_of("list_vault") > 0, seconds=5)
        await steal(store, "stolen")  # while the run waits on its lookup
        await asyncio.sleep(3.0)  # the lookup answers; a run that went on would now create the vault
    assert emulator.counters.requests_of("create_vault") == 0
    assert emulator.counters.requests_of("create_checkpoint") == 0
    wf = await store.workflow_by_command("stolen")
    assert wf is not None and (wf.lease_owner, wf.state) == ("thief", {})
    assert "its lease passed to another worker" in caplog.text


async def test_a_call_that_is_not_idempotent_is_not_sent_when_the_guard_refuses_it(
    emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    async def refuse(seconds: float) -> None:
        raise LeaseLost()

    client = client_for(emulator.base_url, DEFAULT_TENANT)
    token = SEND_GUARD.set(refuse)
    try:
        vaults = await client.list_vaults()  # reads go out whatever the lease
        with pytest.raises(LeaseLost):
            await client.create_checkpoint("any-vault", CheckpointParameters(resources=["x"]))
    finally:
        SEND_GUARD.reset(token)
        await client.close()
    assert vaults.count == 0
    assert emulator.counters.requests_of("create_checkpoint") == 0
    del emulator_config


async def test_ensure_renews_a_short_lease_and_refuses_a_lost_one(
    store: Store, settings: Settings, emulator_config: EmulatorConfig
) -> None:
    await submit(store, backup_command("leased", servers(emulator_config, 1)))
    [wf] = await store.claim_due("me", settings.worker.lease_seconds, 1)
    leases = Leases(store, settings.worker)
    lease = leases.hold(wf.claim, time.monotonic() - settings.worker.lease_seconds + 0.6)  # 0.6 s left
    await leases.ensure(lease, call_seconds=settings.cbr_timeout_seconds)
    assert lease.left(time.monotonic()) > settings.cbr_timeout_seconds  # renewed before the call
    await steal(store, "leased")
    lease.valid_until = time.monotonic() + 0.1
    with pytest.raises(LeaseLost):
        await leases.ensure(lease, call_seconds=settings.cbr_timeout_seconds)


async def test_the_watch_stops_a_run_whose_lease_cannot_be_renewed_before_it_ends(
    dsn: str, settings: Settings, emulator_config: EmulatorConfig
) -> None:
    """The database unreachable (here: the worker's pool closed under it): heartbeats fail, and the run is
    stopped a margin before its lease ends — never after, when another worker may hold it."""
    worker_store = await Store.connect(dsn, max_size=2)
    await submit(worker_store, backup_command("unrenewed", servers(emulator_config, 1)))
    started = time.monotonic()
    [wf] = await worker_store.claim_due("me", settings.worker.lease_seconds, 1)
    leases = Leases(worker_store, settings.worker)
    lease = leases.hold(wf.claim, started)
    run = asyncio.create_task(asyncio.sleep(60))
    lease.run = run
    await worker_store.close()
    keeper = asyncio.create_task(leases.keep())
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(run, 10)
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    stopped_after = time.monotonic() - started
    worker = settings.worker
    assert run.cancelled()
    assert worker.lease_seconds - worker.lease_margin_seconds - 0.3 < stopped_after
    assert stopped_after < worker.lease_seconds - worker.lease_margin_seconds + 0.3
