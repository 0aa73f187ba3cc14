"""Every workflow ends: under permanent errors, throttling, loops and crashing runs, within its budget."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from engine_helpers import (
    EndToEnd,
    backup_command,
    checkpoints_by_marker,
    client_for,
    drain_worker,
    run_until_done,
    servers,
    submit,
    tuned,
)
from store_rows import create_one

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.bodies import BillingCreate, ResourceRef, VaultCreate
from orchestrator.config import Settings
from orchestrator.store import NewWorkflow, Store, WorkflowStatus


async def the_workflow(store: Store, command_id: str) -> tuple[WorkflowStatus, str | None, str | None]:
    wf = await store.workflow_by_command(command_id)
    assert wf is not None
    return wf.status, wf.error_code, wf.error_message


@pytest.mark.parametrize(
    ("rule", "failing"),
    [
        (FaultRule(operation="create_checkpoint", error_probability=1.0), "CreateCheckpoint"),
        (FaultRule(throttle_probability=1.0, retry_after_seconds=0.05), "FindVault"),
        (FaultRule(operation="list_vault", error_probability=1.0, error_status=503), "FindVault"),
    ],
    ids=["permanent-500-on-create", "throttled-forever", "lookups-failing-forever"],
)
async def test_a_permanent_failure_ends_the_workflow_within_its_budget(
    store: Store,
    settings: Settings,
    emulator: RunningEmulator,
    emulator_config: EmulatorConfig,
    rule: FaultRule,
    failing: str,
) -> None:
    """Before: `busy()` never failed and the backoff had no overall limit: a permanent 500 retried forever."""
    emulator.faults.replace(FaultPlan(rules=[rule]))
    await submit(store, backup_command("doomed", servers(emulator_config, 1)))  # no deadline
    await run_until_done(store, tuned(settings, max_failures_per_request=2), "solo", seconds=40)
    status, code, message = await the_workflow(store, "doomed")
    assert (status, code) == (WorkflowStatus.FAILED, "orchestrator.budget_exhausted")
    assert message is not None and message.startswith(f"{failing} failed 3 times")
    wf = await store.workflow_by_command("doomed")
    assert wf is not None and wf.result is not None
    assert [r["error_code"] for r in wf.result["resources"]] == ["orchestrator.budget_exhausted"]
    assert len(await store.events_of(wf.id)) == 1
    assert checkpoints_by_marker(emulator) == {}
    assert emulator.counters.snapshot()["requests"]["total"] < 40


async def test_a_resource_bound_to_another_vault_does_not_loop_on_vault_creation(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """Before: find vault → create vault → 6103 → find vault → … about 15 CBR calls a second, forever."""
    bound, free = servers(emulator_config, 2)
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        billing = BillingCreate(object_type="server", consistent_level="crash_consistent", size=100)
        ref = ResourceRef(id=bound, type="OS::Nova::Server")
        await client.create_vault(VaultCreate(name="elsewhere", billing=billing, resources=[ref]))
    finally:
        await client.close()
    await submit(store, backup_command("mixed", [bound, free], vault="new-vault"))
    await run_until_done(store, settings, "solo")
    wf = await store.workflow_by_command("mixed")
    assert wf is not None and wf.result is not None
    assert wf.status is WorkflowStatus.PARTIALLY_SUCCEEDED
    results = {r["resource_id"]: (r["status"], r["error_code"]) for r in wf.result["resources"]}
    assert results == {bound: ("failed", "BackupService.6103"), free: ("succeeded", None)}
    assert emulator.counters.requests_of("create_vault") == 1 + 2  # the test's; ours with both, then bare
    assert emulator.counters.snapshot()["requests"]["total"] < 20


async def test_a_workflow_whose_runs_keep_crashing_ends_failed_with_an_event(
    store: Store, settings: Settings, emulator_config: EmulatorConfig
) -> None:
    """A poison workflow (here a naive start_by that an older intake let through, which the machine cannot
    compare with an aware clock) used to raise at every lease, forever, with no event."""
    command = backup_command("poison", servers(emulator_config, 1)).model_dump(mode="json")
    command["admission"] = {"start_by": "2030-01-01T00:00:00"}  # no time zone
    poisoned = NewWorkflow(
        id=uuid.uuid4(),
        command_id="poison",
        kind="backup",
        project_id=command["project_id"],
        region=command["region"],
        input=command,
    )
    await create_one(store, poisoned)
    await run_until_done(store, settings, "solo", seconds=30)
    status, code, message = await the_workflow(store, "poison")
    assert (status, code) == (WorkflowStatus.FAILED, "orchestrator.runs_failing")
    assert message is not None and "5 runs in a row failed" in message
    wf = await store.workflow_by_command("poison")
    assert wf is not None
    [event] = await store.events_of(wf.id)
    assert event.routing_key == "workflow.backup.failed"
    assert wf.attempts == 6  # five runs that failed, and the one that ended it


async def test_a_huge_retry_after_is_capped(e2e: EndToEnd) -> None:
    """Before: one 429 with Retry-After: 3600 blocked the project's shared bucket for 59 minutes."""
    settings = e2e.settings.model_copy(update={"cbr_max_retry_after_seconds": 0.5})
    once = FaultRule(
        operation="create_checkpoint", throttle_probability=1.0, retry_after_seconds=3600, max_faults=1
    )
    e2e.emulator.faults.replace(FaultPlan(rules=[once]))
    await e2e.publish(backup_command("throttled", e2e.servers(1)))
    started = time.monotonic()
    await drain_worker(settings, seconds=30)
    assert time.monotonic() - started < 15
    status, _, _ = await the_workflow(e2e.store, "throttled")
    assert status is WorkflowStatus.SUCCEEDED
    assert e2e.emulator.counters.snapshot()["faults"]["by_kind"] == {"throttle": 1}


async def test_a_workflow_whose_runs_keep_dying_without_a_word_ends_failed(
    store: Store, settings: Settings, emulator_config: EmulatorConfig
) -> None:
    """Each run's worker died (its lease simply ran out): counted apart from runs that failed with an
    error, with a limit of its own; past it the workflow ends with its event."""
    await submit(store, backup_command("dying", servers(emulator_config, 1)))
    for _ in range(3):  # three runs, each claimed and then never heard of again
        [claimed] = await store.claim_due("doomed", 0.05, 10)
        assert claimed.command_id == "dying"
        await asyncio.sleep(0.1)
    await run_until_done(store, tuned(settings, max_crashed_runs=3), "solo", seconds=20)
    status, code, message = await the_workflow(store, "dying")
    assert (status, code) == (WorkflowStatus.FAILED, "orchestrator.runs_failing")
    assert message is not None and message.startswith("3 runs in a row ended without a word")
