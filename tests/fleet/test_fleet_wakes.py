"""Event-driven completion: a task's end seen by the poller wakes its backup at once, and a child's end wakes
its fleet at once; the timed polls (here 30 s, far longer than the test) are only the safety net.

Every timed poll of these workflows is due 30 s after it was set, and an idle engine looks for due work
only every 30 s unless notified, so a workflow that finished within a few seconds of its tasks' end was
woken by the event (and claimed on its notification), not by a poll.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from engine_helpers import (
    PROJECT,
    REGION,
    backup_command,
    eventually,
    running_engines,
    servers,
    slow_tasks,
    submit,
    tuned,
)
from store_rows import raw_sql

from cbr_emulator.config import EmulatorConfig, Inventory, Progression
from orchestrator.config import Settings
from orchestrator.messages import FleetBackupCommand
from orchestrator.store import Store, Workflow, WorkflowStatus

SERVERS = 12
POLL = 30.0  # seconds: every timed poll, far beyond what the fleet needs once woken
WOKEN_WITHIN = timedelta(seconds=8)  # a quarter of the poll: only a wake gets there


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    inventory = Inventory(servers=SERVERS, disks=0, data_disks_per_server=0)
    return EmulatorConfig(
        inventory=inventory,
        progression=Progression(base_seconds=2.0, gb_per_second=1000.0, waiting_seconds=0),
    )


@pytest.fixture
def slow_polls(settings: Settings) -> Settings:
    return tuned(settings, status_poll_seconds=POLL, idle_poll_seconds=POLL)


def fleet_command(command_id: str, servers: list[str]) -> FleetBackupCommand:
    """Vaults of 100 GB hold one or two servers each: a child per vault, all running at once."""
    return FleetBackupCommand.model_validate(
        {
            "command_id": command_id,
            "project_id": PROJECT,
            "region": REGION,
            "select": {"resources": [{"id": s} for s in servers]},
            "auto_vaults": {"size_gb": 100},
        }
    )


def last_task_end(e2e_emulator: Any) -> datetime:
    logs = e2e_emulator.emulator.world.project(REGION, PROJECT).op_logs.values()
    ends = [log.ended_at for log in logs if log.operation_type == "backup" and log.ended_at is not None]
    assert ends, "no backup task ended"
    return max(ends)


async def finished(store: Store, command_id: str) -> Workflow:
    async def done() -> bool:
        wf = await store.workflow_by_command(command_id)
        return wf is not None and wf.finished_at is not None

    await eventually(done, seconds=POLL * 0.75)  # a timed poll would come later than this
    wf = await store.workflow_by_command(command_id)
    assert wf is not None and wf.finished_at is not None
    return wf


async def children_of(store: Store, parent: Workflow) -> list[Workflow]:
    return await store.fleet.children_of(parent.id)


async def test_a_fleet_ends_at_once_after_its_last_task_woken_by_the_poller_and_by_its_children(
    store: Store, slow_polls: Settings, emulator: Any, emulator_config: EmulatorConfig
) -> None:
    command = fleet_command("fleet-wakes", servers(emulator_config, SERVERS))
    await submit(store, command)
    async with running_engines(store, slow_polls, "w1"):
        fleet = await finished(store, "fleet-wakes")
    assert fleet.status is WorkflowStatus.SUCCEEDED, (fleet.error_code, fleet.error_message)
    children = await children_of(store, fleet)
    assert len(children) >= 4 and all(c.status is WorkflowStatus.SUCCEEDED for c in children)
    ended = last_task_end(emulator)
    last_child = max(c.finished_at for c in children if c.finished_at is not None)
    # poller → workflow: every child learnt its checkpoint's end long before its 30 s poll
    assert last_child - ended < WOKEN_WITHIN, (ended, last_child)
    # child → parent: the fleet read its children at once, not at its own 30 s poll
    assert fleet.finished_at is not None and fleet.finished_at - last_child < WOKEN_WITHIN
    # one checkpoint per child: a wake repeats no work
    assert emulator.counters.requests_of("create_checkpoint") == len(children)


async def test_children_ending_together_wake_their_fleet_fewer_times_than_there_are_children(
    store: Store, slow_polls: Settings, emulator: Any, emulator_config: EmulatorConfig
) -> None:
    await submit(store, fleet_command("fleet-coalesced", servers(emulator_config, SERVERS)))
    async with running_engines(store, slow_polls, "w1"):
        fleet = await finished(store, "fleet-coalesced")
    children = await children_of(store, fleet)
    runs = await raw_sql(store).fetchval("SELECT attempts FROM workflows WHERE id = $1", fleet.id)
    # one run to select and spawn, then one per wake that found children still running, then the summary:
    # woken once per child, it would have run more than there are children
    assert runs < len(children), (runs, len(children))


async def test_a_worker_stopping_hands_the_workflows_it_watches_to_another_at_once(
    store: Store, slow_polls: Settings, emulator: Any, emulator_config: EmulatorConfig
) -> None:
    """Their timed polls are far off (the watch was to wake them): due at once, the next worker polls them."""
    slow_tasks(emulator, seconds=3600)  # and the clock stays: the backup runs on
    await submit(store, backup_command("watched", servers(emulator_config, 1)))

    async def checkpoint_made() -> bool:
        wf = await store.workflow_by_command("watched")
        return wf is not None and bool(wf.state.get("checkpoint_id")) and wf.lease_owner is None

    async with running_engines(store, slow_polls, "w1"):
        await eventually(checkpoint_made, seconds=20)
        sleeping_until = await raw_sql(store).fetchval(
            "SELECT next_run_at - now() FROM workflows WHERE command_id = 'watched'"
        )
        assert sleeping_until > timedelta(seconds=POLL / 2)  # the safety net only
    due_in = await raw_sql(store).fetchval(
        "SELECT next_run_at - now() FROM workflows WHERE command_id = 'watched'"
    )
    assert due_in <= timedelta(0), due_in  # handed back when w1 stopped
