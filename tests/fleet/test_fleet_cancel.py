"""Cancelling a fleet: every unfinished child is asked to cancel, and the fleet ends ``cancelled`` once they
all ended, with one summary event counting the cancelled resources (its children publish nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import PROJECT, REGION, eventually, running_engines, servers, slow_tasks, submit
from store_rows import raw_sql

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.messages import CANCELLED, FleetBackupCommand
from orchestrator.store import CancelVerdict, Store, Workflow, WorkflowStatus

FLEET = 300  # two children: 255 + 45
BIG_VAULTS = {"size_gb": 1_000_000}  # vaults packed by count (255), not by size


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        manual_clock=True, inventory=Inventory(servers=FLEET, disks=0), progression=Progression.instantly()
    )


def fleet_command(command_id: str, select: dict[str, Any], **over: Any) -> FleetBackupCommand:
    return FleetBackupCommand.model_validate(
        {"command_id": command_id, "project_id": PROJECT, "region": REGION, "select": select, **over}
    )


async def workflow(store: Store, command_id: str) -> Workflow:
    wf = await store.workflow_by_command(command_id)
    assert wf is not None, command_id
    return wf


async def is_final(store: Store, command_id: str) -> bool:
    return (await workflow(store, command_id)).status.is_final


async def held_anywhere(store: Store) -> tuple[int, int]:
    locks = await raw_sql(store).fetchval("SELECT count(*) FROM resource_locks")
    slots = await raw_sql(store).fetchval("SELECT count(*) FROM admission_slots")
    return locks, slots


async def test_a_fleet_cancels_its_children_and_ends_cancelled_counting_them(
    store: Store, settings: Settings, emulator: RunningEmulator, emulator_config: EmulatorConfig
) -> None:
    """One child of 255 backs up (slowly) while the other waits for room in the project (256 backup
    tasks, 255 held by the first): both are cancelled, the first reporting its backups as possibly
    finishing, the second its resources skipped."""
    slow_tasks(emulator, 600)
    select = {"resources": [{"id": i} for i in servers(emulator_config, FLEET)]}
    await submit(store, fleet_command("fleet-c", select, project_tasks=256, auto_vaults=BIG_VAULTS))

    async def one_child_runs_one_waits() -> bool:
        kids = await store.fleet.children_of((await workflow(store, "fleet-c")).id)
        running = [k for k in kids if k.state.get("checkpoint_id")]
        waiting = [k for k in kids if k.attempts and k.state.get("admitted") is False]
        return len(running) == 1 and len(waiting) == 1

    async with running_engines(store, settings, "solo"):
        await eventually(one_child_runs_one_waits, 30)
        assert await held_anywhere(store) != (0, 0)
        asked = await store.request_cancel("fleet-c")
        await eventually(lambda: is_final(store, "fleet-c"), 15)

    assert asked.verdict is CancelVerdict.REQUESTED
    fleet = await workflow(store, "fleet-c")
    assert (fleet.status, fleet.error_code) == (WorkflowStatus.CANCELLED, CANCELLED)
    kids = await store.fleet.children_of(fleet.id)
    assert [(k.status, k.error_code) for k in kids] == [(WorkflowStatus.CANCELLED, CANCELLED)] * 2
    assert all(k.cancel_requested_at is not None for k in kids)
    assert [await store.events_of(k.id) for k in kids] == [[], []]  # children publish nothing
    assert fleet.result is not None
    counts = fleet.result["fleet"]["counts"]
    assert (counts["total"], counts["cancelled"], counts["succeeded"]) == (FLEET, FLEET, 0)
    assert {counts["failed"], counts["skipped"]} == {255, 45}  # the running child's, the waiting one's
    assert (counts["children"], counts["children_final"]) == (2, 2)
    finals = [e for e in await store.events_of(fleet.id) if e.body["data"]["outcome"] != "progress"]
    [summary] = finals
    assert summary.routing_key == "workflow.fleet_backup.cancelled"
    assert summary.body["data"]["fleet"]["counts"]["cancelled"] == FLEET
    assert await held_anywhere(store) == (0, 0)
    assert emulator.counters.requests_of("create_checkpoint") == 1


async def test_a_fleet_cancelled_before_it_ran_selects_and_spawns_nothing(
    store: Store, settings: Settings, emulator: RunningEmulator
) -> None:
    await submit(store, fleet_command("fleet-early", {"protectables": {"types": ["server"]}}))
    asked = await store.request_cancel("fleet-early")
    async with running_engines(store, settings, "solo"):
        await eventually(lambda: is_final(store, "fleet-early"), 10)

    assert asked.verdict is CancelVerdict.REQUESTED
    fleet = await workflow(store, "fleet-early")
    assert fleet.status is WorkflowStatus.CANCELLED
    assert await store.fleet.children_of(fleet.id) == []
    assert await store.steps_of(fleet.id) == []  # not one listing
    [summary] = await store.events_of(fleet.id)
    assert summary.routing_key == "workflow.fleet_backup.cancelled"
