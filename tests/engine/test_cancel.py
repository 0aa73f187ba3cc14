"""Cancelling workflows that run on the emulator: each stops at its next step, ends ``cancelled`` with one
final event, gives back its locks and admission slots, and reports what CBR may still finish; an unknown
outcome is settled first, and a create about to be made is not made."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from engine_helpers import (
    backup_command,
    checkpoints_by_marker,
    client_for,
    emulator_project,
    eventually,
    run_until_done,
    running_engines,
    servers,
    slow_tasks,
    submit,
    tuned,
)
from store_rows import raw_sql

from cbr_emulator.config import DEFAULT_TENANT, EmulatorConfig, Inventory, Progression
from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.messages import CANCELLED, RestoreCommand
from orchestrator.store import CancelVerdict, OutboxEvent, Store, Workflow, WorkflowStatus

CAPPED: dict[str, Any] = {"admission": {"project_concurrency": 1}}
SLOW_POLLS = 30.0  # a sleeping workflow would sleep this long if a cancel did not wake it


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """A clock that moves only when a test moves it; tasks end at once unless a test slows them."""
    return EmulatorConfig(
        manual_clock=True, progression=Progression.instantly(), inventory=Inventory(servers=30)
    )


async def workflow(store: Store, command_id: str) -> Workflow:
    wf = await store.workflow_by_command(command_id)
    assert wf is not None, command_id
    return wf


async def is_final(store: Store, command_id: str) -> bool:
    return (await workflow(store, command_id)).status.is_final


async def final_events(store: Store, wf: Workflow) -> list[OutboxEvent]:
    return [e for e in await store.events_of(wf.id) if e.body["data"]["outcome"] != "progress"]


async def held(store: Store, wf: Workflow) -> tuple[int, int]:
    """Resource locks and admission slots the workflow holds."""
    locks = await raw_sql(store).fetchval("SELECT count(*) FROM resource_locks WHERE workflow_id = $1", wf.id)
    slots = await raw_sql(store).fetchval(
        "SELECT count(*) FROM admission_slots WHERE workflow_id = $1", wf.id
    )
    return locks, slots


def results(wf: Workflow) -> list[tuple[str, str | None]]:
    assert wf.result is not None
    return [(r["status"], r["error_code"]) for r in wf.result["resources"]]


async def ended_cancelled_once(store: Store, command_id: str, kind: str = "backup") -> Workflow:
    """The workflow ended ``cancelled`` with exactly one final event, and holds nothing any more."""
    wf = await workflow(store, command_id)
    assert (wf.status, wf.error_code) == (WorkflowStatus.CANCELLED, CANCELLED), wf.error_message
    [event] = await final_events(store, wf)
    assert event.routing_key == f"workflow.{kind}.cancelled"
    assert (event.body["data"]["outcome"], event.body["data"]["error_code"]) == ("cancelled", CANCELLED)
    assert await held(store, wf) == (0, 0)
    return wf


async def test_a_backup_waiting_for_admission_is_woken_and_ends_without_a_checkpoint(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    first, second = servers(emulator_config, 2)
    slow_tasks(emulator, 600)
    await submit(store, backup_command("first", [first], **CAPPED))

    async def first_polls() -> bool:
        return bool((await workflow(store, "first")).state.get("checkpoint_id"))

    async def second_waits() -> bool:
        wf = await workflow(store, "second")
        return wf.attempts >= 1 and wf.lease_owner is None and wf.state.get("admitted") is False

    async with running_engines(store, tuned(settings, status_poll_seconds=SLOW_POLLS), "solo"):
        await eventually(first_polls, 10)
        await submit(store, backup_command("second", [second], **CAPPED))
        await eventually(second_waits, 10)
        asked = await store.request_cancel("second")
        await eventually(lambda: is_final(store, "second"), 5)  # long before its next poll
        assert not (await workflow(store, "first")).status.is_final

    assert asked.verdict is CancelVerdict.REQUESTED
    wf = await ended_cancelled_once(store, "second")
    assert results(wf) == [("skipped", CANCELLED)]
    assert wf.result is not None and wf.result["resources"][0]["error_message"] == (
        "cancelled before its backup started"
    )
    assert emulator.counters.requests_of("create_checkpoint") == 1  # the first's only


async def test_a_polling_backup_reports_its_running_backup_and_frees_its_resource_and_slot(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    [server] = servers(emulator_config, 1)
    slow_tasks(emulator, 600)
    await submit(store, backup_command("first", [server], **CAPPED))

    async def polls() -> bool:
        return bool((await workflow(store, "first")).state.get("checkpoint_id"))

    async def later_admitted() -> bool:
        return (await workflow(store, "later")).state.get("admitted") is True

    async def later_done() -> bool:
        emulator.clock.advance(700)  # the cloud's backups end: the cancelled one's too
        return await is_final(store, "later")

    async with running_engines(store, settings, "solo"):
        await eventually(polls, 10)
        assert await held(store, await workflow(store, "first")) == (1, 1)
        asked = await store.request_cancel("first")
        again = await store.request_cancel("first")
        await eventually(lambda: is_final(store, "first"), 5)
        await submit(store, backup_command("later", [server], **CAPPED))  # same resource, same cap
        await eventually(later_admitted, 10)
        await eventually(later_done, 20, step=0.2)

    assert (asked.verdict, again.verdict) == (CancelVerdict.REQUESTED, CancelVerdict.ALREADY_REQUESTED)
    assert (await store.request_cancel("first")).verdict is CancelVerdict.ALREADY_CANCELLED
    wf = await ended_cancelled_once(store, "first")
    assert wf.result is not None
    checkpoint = wf.result["checkpoint_id"]
    assert checkpoint in emulator_project(emulator).checkpoints
    assert results(wf) == [("failed", CANCELLED)]
    message = wf.result["resources"][0]["error_message"]
    assert "may still finish" in message and checkpoint in message
    assert (await workflow(store, "later")).status is WorkflowStatus.SUCCEEDED


async def test_a_running_restore_ends_cancelled_and_gives_its_target_back(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    [server] = servers(emulator_config, 1)
    await submit(store, backup_command("backup", [server]))
    await run_until_done(store, settings, "solo")
    backed_up = await workflow(store, "backup")
    assert backed_up.result is not None
    backup_id = backed_up.result["resources"][0]["backup_id"]
    async with client_for(emulator.base_url, DEFAULT_TENANT) as cbr:
        children = (await cbr.show_backup(backup_id)).children
    restore = RestoreCommand.model_validate(
        {
            "command_id": "restore",
            "project_id": DEFAULT_TENANT.project_id,
            "region": DEFAULT_TENANT.region,
            "backup_id": backup_id,
            "server_id": server,
            "mappings": [{"backup_id": c.id, "volume_id": c.resource_id} for c in children],
        }
    )
    slow_tasks(emulator, 600)
    await submit(store, restore)

    async def restoring() -> bool:
        wf = await workflow(store, "restore")
        return wf.state.get("phase") == "poll" and wf.lease_owner is None

    async with running_engines(store, tuned(settings, status_poll_seconds=SLOW_POLLS), "solo"):
        await eventually(restoring, 10)
        assert await held(store, await workflow(store, "restore")) == (1, 0)
        await store.request_cancel("restore")
        await eventually(lambda: is_final(store, "restore"), 5)  # long before its next poll

    wf = await ended_cancelled_once(store, "restore", kind="restore")
    assert results(wf) == [("failed", CANCELLED)]
    assert wf.error_message is not None and "may still finish" in wf.error_message
    assert emulator.counters.requests_of("restore_backup") == 1


async def test_a_run_asked_to_cancel_mid_call_stops_before_its_next_call(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """The request comes while the run waits on a slow create_vault: a heartbeat brings it to the run,
    which then does not create the checkpoint."""
    slow = FaultRule(operation="create_vault", latency_seconds=1.5, latency_probability=1.0, max_faults=1)
    emulator.faults.replace(FaultPlan(rules=[slow]))
    await submit(store, backup_command("c1", servers(emulator_config, 1)))

    async def in_create_vault() -> bool:
        return emulator.counters.snapshot()["faults"]["total"] == 1

    async with running_engines(store, settings, "solo"):
        await eventually(in_create_vault, 5)
        await store.request_cancel("c1")
        await eventually(lambda: is_final(store, "c1"), 10)

    wf = await ended_cancelled_once(store, "c1")
    assert results(wf) == [("skipped", CANCELLED)]
    assert [s.step.operation for s in await store.steps_of(wf.id)] == [
        "FindVault",
        "FindVault",
        "CreateVault",
    ]
    assert emulator.counters.requests_of("create_checkpoint") == 0


async def test_a_checkpoint_whose_create_was_unknown_is_found_before_the_backup_ends_cancelled(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """Cancel does not skip the settle: the lookup is made, finds the checkpoint the lost answer created,
    and the result names it (its backup may still finish); no second create."""
    quick = settings.model_copy(update={"cbr_timeout_seconds": 0.5})
    lost = FaultRule(operation="create_checkpoint", timeout_probability=1.0, hang_seconds=1.5, max_faults=1)
    emulator.faults.replace(FaultPlan(rules=[lost]))
    slow_tasks(emulator, 600)
    await submit(store, backup_command("c1", servers(emulator_config, 1)))

    async def unknown() -> bool:
        steps = await store.steps_of((await workflow(store, "c1")).id)
        return any(s.step.outcome.value == "unknown" for s in steps)

    async with running_engines(store, quick, "solo"):
        await eventually(unknown, 10)
        await store.request_cancel("c1")
        await eventually(lambda: is_final(store, "c1"), 10)

    wf = await ended_cancelled_once(store, "c1")
    assert checkpoints_by_marker(emulator) == {f"cbro-{wf.id}": 1}
    assert wf.result is not None and wf.result["checkpoint_id"] in emulator_project(emulator).checkpoints
    assert results(wf) == [("failed", CANCELLED)]
    operations = [(s.step.operation, s.step.outcome.value) for s in await store.steps_of(wf.id)]
    assert operations[-2:] == [("CreateCheckpoint", "unknown"), ("FindCheckpoint", "ok")]
    assert emulator.counters.requests_of("create_checkpoint") == 1


async def test_a_create_that_did_not_happen_is_settled_and_not_made_again(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """A 5xx refused the create before it executed: lookups find nothing over the settle window; the
    create the backup would then make again is not made, and its resource is reported skipped."""
    refused = FaultRule(operation="create_checkpoint", error_probability=1.0, max_faults=1)
    emulator.faults.replace(FaultPlan(rules=[refused]))
    await submit(store, backup_command("c1", servers(emulator_config, 1)))

    async def unknown() -> bool:
        steps = await store.steps_of((await workflow(store, "c1")).id)
        return any(s.step.outcome.value == "unknown" for s in steps)

    async with running_engines(store, settings, "solo"):
        await eventually(unknown, 10)
        await store.request_cancel("c1")
        await eventually(lambda: is_final(store, "c1"), 10)

    wf = await ended_cancelled_once(store, "c1")
    assert results(wf) == [("skipped", CANCELLED)]
    operations = [s.step.operation for s in await store.steps_of(wf.id)]
    assert operations.count("CreateCheckpoint") == 1 and "FindCheckpoint" in operations
    assert emulator.counters.requests_of("create_checkpoint") == 1
    assert checkpoints_by_marker(emulator) == {}


async def test_cancels_racing_the_workflows_own_ends_leave_exactly_one_final_event_each(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    ids = servers(emulator_config, 16)
    commands = [backup_command(f"race-{i}", [sid], vault=f"race-{i % 4}") for i, sid in enumerate(ids)]
    await submit(store, *commands)
    rng = random.Random(8)
    delays = {c.command_id: rng.uniform(0, 1.0) for c in commands}

    async def cancel_later(command_id: str) -> CancelVerdict:
        await asyncio.sleep(delays[command_id])
        return (await store.request_cancel(command_id)).verdict

    async def all_final() -> bool:
        return await store.unfinished_count() == 0

    async with running_engines(store, settings, "one", "two"):
        verdicts = await asyncio.gather(*(cancel_later(c.command_id) for c in commands))
        await eventually(all_final, 30)

    for command, verdict in zip(commands, verdicts, strict=True):
        wf = await workflow(store, command.command_id)
        [event] = await final_events(store, wf)
        assert event.routing_key == f"workflow.backup.{wf.status.value}"
        assert wf.status in (WorkflowStatus.SUCCEEDED, WorkflowStatus.CANCELLED)
        if verdict is CancelVerdict.ALREADY_ENDED:
            assert wf.status is WorkflowStatus.SUCCEEDED
        if wf.status is WorkflowStatus.CANCELLED:
            assert verdict is CancelVerdict.REQUESTED
        assert await held(store, wf) == (0, 0)
