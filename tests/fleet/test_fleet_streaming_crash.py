"""Streaming selection under crashes, and the other selections beside it: a crash between pages doubles
nothing; selection by ids or by vaults still backs each resource up once."""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest
from engine_helpers import (
    PROJECT,
    REGION,
    EndToEnd,
    emulator_project,
    run_engine_process,
    run_until_done,
    submit,
    tuned,
)
from store_rows import raw_sql

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from cbr_emulator.server import RunningEmulator
from orchestrator.config import Settings
from orchestrator.messages import FleetBackupCommand
from orchestrator.store import Store, WorkflowStatus

FLEET = 300  # 6 full pages of 50, then an empty one
BY_TYPE = {"protectables": {"types": ["server"]}}
BIG_VAULTS = {"size_gb": 1_000_000}  # vaults packed by count, not by size


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(inventory=Inventory(servers=FLEET, disks=0), progression=Progression.instantly())


def fleet_command(command_id: str, select: dict[str, Any], **over: Any) -> FleetBackupCommand:
    return FleetBackupCommand.model_validate(
        {"command_id": command_id, "project_id": PROJECT, "region": REGION, "select": select, **over}
    )


def backups_per_server(running: RunningEmulator) -> Counter[str]:
    """Backups the emulator holds per server (whole-resource backups, not their disks')."""
    backups = emulator_project(running).backups.values()
    return Counter(b.resource_id for b in backups if b.parent_id is None)


@pytest.mark.parametrize("point", ["fleet_after_spawn", "fleet_page_read"])
async def test_a_crash_between_pages_resumes_without_a_second_vault_child_or_backup(
    point: str, store: Store, settings: Settings, emulator: RunningEmulator
) -> None:
    """Children of 20 (12 in a vault of 240): the first page spawns 2, then the engine dies right after
    that commit, or once the second page is read; a survivor finishes the fleet from what was saved."""
    await submit(store, fleet_command("fleet-crash", BY_TYPE, project_tasks=20, auto_vaults=BIG_VAULTS))
    doomed = tuned(settings, lease_seconds=3.0)
    assert await run_engine_process(doomed, "doomed", crash_at=point) == -signal.SIGKILL
    wf = await store.workflow_by_command("fleet-crash")
    assert wf is not None and wf.status is WorkflowStatus.RUNNING
    assert await children_of(store, wf.id) == 2  # spawned, with the first page's marker, before the crash
    assert wf.state["spawned"] == 2 and wf.state["marker"] is not None  # saved in the same transaction

    await run_until_done(store, settings, "survivor", seconds=90)
    wf = await store.workflow_by_command("fleet-crash")
    assert wf is not None and wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None and wf.result["fleet"]["counts"]["succeeded"] == FLEET
    assert await children_of(store, wf.id) == FLEET // 20
    per_server = backups_per_server(emulator)
    assert len(per_server) == FLEET and set(per_server.values()) == {1}  # each server exactly once
    vaults = [v.name for v in emulator_project(emulator).vaults.values()]
    assert sorted(vaults) == sorted(set(vaults)) and len(vaults) == 2  # 240 + 60, each made once
    inputs = await raw_sql(store).fetch("SELECT input FROM workflows WHERE parent_id = $1", wf.id)
    chosen = [r["id"] for row in inputs for r in row["input"]["resources"]]
    assert len(chosen) == len(set(chosen)) == FLEET  # no resource in two children


async def children_of(store: Store, parent_id: object) -> int:
    count: int = await raw_sql(store).fetchval(
        "SELECT count(*) FROM workflows WHERE parent_id = $1", parent_id
    )
    return count


async def test_selection_by_ids_then_by_the_vaults_it_filled_backs_each_server_up_once_each_time(
    e2e: EndToEnd,
) -> None:
    ids = e2e.servers(120)
    by_ids = {"resources": [{"id": i} for i in ids]}
    await e2e.publish(fleet_command("fleet-ids", by_ids, project_tasks=50, auto_vaults=BIG_VAULTS))
    await e2e.drain(seconds=60)
    wf = await e2e.workflow("fleet-ids")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert backups_per_server(e2e.emulator) == Counter(ids)

    vaults = list(emulator_project(e2e.emulator).vaults)
    await e2e.publish(fleet_command("fleet-vaults", {"vaults": vaults}, project_tasks=50))
    await e2e.drain(seconds=60)
    wf = await e2e.workflow("fleet-vaults")
    assert wf.status is WorkflowStatus.SUCCEEDED, wf.result
    assert wf.result is not None and wf.result["fleet"]["counts"]["succeeded"] == len(ids)
    assert backups_per_server(e2e.emulator) == Counter(dict.fromkeys(ids, 2))
    assert len(emulator_project(e2e.emulator).vaults) == len(vaults)  # no vault made for the second
