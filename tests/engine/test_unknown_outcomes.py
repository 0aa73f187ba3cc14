"""A call that is not idempotent and got no definite answer is settled by lookups only, never twice made.

Counted in the emulator's own state: checkpoints carrying each workflow's marker, not requests.
"""

from __future__ import annotations

from engine_helpers import (
    backup_command,
    checkpoints_by_marker,
    client_for,
    emulator_project,
    run_until_done,
    servers,
    slow_tasks,
    submit,
    tuned,
)

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.cbr.bodies import BillingCreate, CheckpointParameters, ResourceRef, VaultCreate
from orchestrator.config import Settings
from orchestrator.store import Store, WorkflowStatus


async def outcomes(store: Store, command_id: str) -> list[tuple[str, str]]:
    wf = await store.workflow_by_command(command_id)
    assert wf is not None
    return [(s.step.operation, s.step.outcome.value) for s in await store.steps_of(wf.id)]


async def test_a_create_executed_after_the_clients_timeout_is_found_not_made_again(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """The create reaches the service late: the first lookups find nothing, a later one finds it."""
    quick = settings.model_copy(update={"cbr_timeout_seconds": 0.5})
    late = FaultRule(
        operation="create_checkpoint", latency_seconds=1.5, latency_probability=1.0, max_faults=1
    )
    emulator.faults.replace(FaultPlan(rules=[late]))
    await submit(store, backup_command("late", servers(emulator_config, 1)))
    await run_until_done(store, quick, "solo")
    wf = await store.workflow_by_command("late")
    assert wf is not None and wf.status is WorkflowStatus.SUCCEEDED, wf and wf.error_code
    assert checkpoints_by_marker(emulator) == {f"cbro-{wf.id}": 1}
    steps = await outcomes(store, "late")
    assert steps[steps.index(("CreateCheckpoint", "unknown")) + 1] == ("FindCheckpoint", "ok")
    assert steps.count(("CreateCheckpoint", "unknown")) == 1
    assert ("CreateCheckpoint", "ok") not in steps


async def test_throttled_and_failing_lookups_never_lead_to_a_second_checkpoint(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """The issue's plan: lost answers and 5xx on create, 429 on every call: one checkpoint per command."""
    quick = tuned(settings.model_copy(update={"cbr_timeout_seconds": 0.5}), concurrency=8)
    plan = FaultPlan(
        seed=7,
        rules=[
            FaultRule(operation="create_checkpoint", timeout_probability=0.25, hang_seconds=0.8),
            FaultRule(operation="create_checkpoint", error_probability=0.3),
            FaultRule(throttle_probability=0.3, retry_after_seconds=0.05),
        ],
    )
    emulator.faults.replace(plan)
    ids = servers(emulator_config, 12)
    await submit(store, *(backup_command(f"c{i}", [sid], vault=f"v{i % 3}") for i, sid in enumerate(ids)))
    await run_until_done(store, quick, "one", "two", seconds=90)
    by_marker = checkpoints_by_marker(emulator)
    assert len(by_marker) == len(ids)
    assert set(by_marker.values()) == {1}
    assert await store.count_by_status() == {WorkflowStatus.SUCCEEDED: len(ids)}
    faults = emulator.counters.snapshot()["faults"]["by_kind"]
    assert faults.get("timeout", 0) and faults.get("error", 0) and faults.get("throttle", 0)


async def test_a_lost_answer_for_two_resources_whose_first_is_busy_is_found_through_the_second(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """X is being backed up (a policy run): CBR skips it and backs up Y; the answer is lost. The lookup
    must search every resource of the call, and report X skipped and Y backed up."""
    x, y = servers(emulator_config, 2)
    client = client_for(emulator.base_url, DEFAULT_TENANT)
    try:
        billing = BillingCreate(object_type="server", consistent_level="crash_consistent", size=1000)
        refs = [ResourceRef(id=x, type="OS::Nova::Server"), ResourceRef(id=y, type="OS::Nova::Server")]
        vault = await client.create_vault(VaultCreate(name="busy", billing=billing, resources=refs))
        slow_tasks(emulator, seconds=2.0)
        await client.create_checkpoint(vault.id, CheckpointParameters(resources=[x], name="policy-run"))
    finally:
        await client.close()
    quick = settings.model_copy(update={"cbr_timeout_seconds": 0.5})
    lost = FaultRule(operation="create_checkpoint", timeout_probability=1.0, hang_seconds=0.8, max_faults=1)
    emulator.faults.replace(FaultPlan(rules=[lost]))
    await submit(store, backup_command("xy", [x, y], vault="busy"))
    await run_until_done(store, quick, "solo", seconds=30)
    wf = await store.workflow_by_command("xy")
    assert wf is not None and wf.result is not None
    assert checkpoints_by_marker(emulator) == {f"cbro-{wf.id}": 1}
    results = {r["resource_id"]: (r["status"], r["error_code"]) for r in wf.result["resources"]}
    assert results == {x: ("skipped", "BackupService.6125"), y: ("succeeded", None)}
    assert wf.status is WorkflowStatus.PARTIALLY_SUCCEEDED
    assert len(emulator_project(emulator).checkpoints) == 2  # the policy run's and ours
