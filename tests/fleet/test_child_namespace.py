"""A fleet's children live in a namespace no command can reach, and are created once, whatever comes first."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import PROJECT, REGION, EndToEnd, backup_command
from fleet_builder import build_fleet, listed
from store_rows import create_one, raw_sql

from orchestrator.engine.store_actions import perform_store_action
from orchestrator.messages import (
    BackupCommand,
    FleetBackupCommand,
    InvalidCommand,
    parse_command,
    workflow_id_for,
)
from orchestrator.store import ChildConflict, NewWorkflow, Store, Workflow, WorkflowStatus
from orchestrator.workflows import fleet
from orchestrator.workflows.base import ChildrenSpawned, Resume, SpawnChildren

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def fleet_command(command_id: str, servers: list[str]) -> FleetBackupCommand:
    return FleetBackupCommand.model_validate(
        {
            "command_id": command_id,
            "project_id": PROJECT,
            "region": REGION,
            "select": {"resources": [{"id": s} for s in servers]},
        }
    )


def spawn_of(command: FleetBackupCommand, now: datetime = T0) -> SpawnChildren:
    state = fleet.initial_state(command, workflow_id_for(command.command_id))
    looked_up = fleet.transition(state, Resume(now)).state
    [action] = fleet.transition(looked_up, listed(command)).actions
    assert isinstance(action, SpawnChildren)
    return action


def test_child_ids_are_ids_no_command_can_take() -> None:
    command = fleet_command("nightly", [f"s{i:04d}" for i in range(600)])
    specs = spawn_of(command).children
    parent = workflow_id_for("nightly")
    assert [c.command_id for c in specs] == [f"fleet/{parent}/{n:06d}" for n in (1, 2, 3)]
    for child in specs:
        BackupCommand.model_validate(child.input)  # its input stays an ordinary backup command ...
        as_command = json.dumps({**child.input, "command_id": child.command_id}).encode()
        with pytest.raises(InvalidCommand, match="command_id"):  # ... but no command can carry its id
            parse_command(as_command)


def test_a_command_whose_id_holds_a_slash_is_refused_by_the_schema() -> None:
    raw = backup_command("x", ["s1"]).model_dump(mode="json")
    with pytest.raises(InvalidCommand, match="command_id"):
        parse_command(json.dumps({**raw, "command_id": f"fleet/{workflow_id_for('x')}/000001"}).encode())


async def test_a_command_published_first_under_the_old_child_id_no_longer_changes_the_fleet(
    e2e: EndToEnd,
) -> None:
    squatter, *fleet_servers = e2e.servers(4)
    tag = workflow_id_for("fleet-taken").hex[:8]
    await e2e.publish(backup_command(f"fleet-taken.{tag}.00001", [squatter]))  # the id a child had
    await e2e.drain(seconds=30)
    await e2e.publish(fleet_command("fleet-taken", fleet_servers))
    await e2e.drain(seconds=60)

    wf = await e2e.workflow("fleet-taken")
    assert wf.status is WorkflowStatus.SUCCEEDED, (wf.error_code, wf.error_message)
    assert wf.result is not None
    counts = wf.result["fleet"]["counts"]
    assert (counts["total"], counts["succeeded"], counts["children"]) == (3, 3, 1)
    [child] = await e2e.store.fleet.children_of(wf.id)
    assert sorted(r["id"] for r in child.input["resources"]) == sorted(fleet_servers)
    other = await e2e.workflow(f"fleet-taken.{tag}.00001")
    assert other.parent_id is None and [r["id"] for r in other.input["resources"]] == [squatter]


async def running_again(store: Store, workflow_id: uuid.UUID) -> Workflow:
    """The fleet as a run that claimed it again would hold it (it was built finished)."""
    await raw_sql(store).execute(
        "UPDATE workflows SET status = 'running', finished_at = NULL, lease_owner = 'again',"
        " lease_epoch = lease_epoch + 1, lease_expires_at = now() + interval '1 minute' WHERE id = $1",
        workflow_id,
    )
    wf = await store.get_workflow(workflow_id)
    assert wf is not None
    return wf


async def test_spawning_again_after_a_crash_creates_nothing_new(store: Store) -> None:
    built = await build_fleet(store, "fleet-twice", 600)
    before = [c.id for c in await store.fleet.children_of(built.workflow.id)]
    counted = await store.fleet.counts(built.workflow.id)
    again = spawn_of(built.command, now=T0 + timedelta(hours=1))  # a later run of the same phase
    seen = await perform_store_action(store, await running_again(store, built.workflow.id), again)
    assert seen == ChildrenSpawned(3)
    assert [c.id for c in await store.fleet.children_of(built.workflow.id)] == before
    assert await store.fleet.counts(built.workflow.id) == counted
    assert (counted.total, counted.children) == (600, 3)


async def test_a_row_holding_a_childs_id_that_is_not_its_child_is_an_error_not_a_smaller_fleet(
    store: Store,
) -> None:
    command = fleet_command("fleet-conflict", [f"s{i:04d}" for i in range(300)])
    wid, _ = await create_one(
        store,
        NewWorkflow(
            workflow_id_for(command.command_id), command.command_id, "fleet_backup", PROJECT, REGION, {}
        ),
    )
    [parent] = await store.claim_due("worker", 60, 1)
    assert parent.id == wid
    spawn = spawn_of(command)
    first = spawn.children[0]
    await create_one(
        store,  # not a child of this fleet, yet under its first child's id
        NewWorkflow(
            workflow_id_for(first.command_id), first.command_id, "backup", PROJECT, REGION, first.input
        ),
    )
    with pytest.raises(ChildConflict, match=first.command_id):
        await perform_store_action(store, parent, spawn)
