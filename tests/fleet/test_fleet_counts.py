"""A fleet's counts move resource by resource: read from its running children's states, not only from
the results of the children that ended."""

from __future__ import annotations

import json

from fleet_builder import build_fleet, finish_children, resource_id
from store_rows import raw_sql

from orchestrator.engine.store_actions import perform_store_action
from orchestrator.store import Store
from orchestrator.workflows import fleet
from orchestrator.workflows.base import FleetSeen, Progress, ReadFleet


def result(i: int, status: str = "succeeded") -> dict[str, object]:
    if status == "succeeded":
        return {"resource_id": resource_id(i), "status": status, "backup_id": f"bk-{i}", "size_gb": 2}
    return {"resource_id": resource_id(i), "status": status, "error_code": "BackupService.6114"}


async def test_counts_and_resources_read_what_running_children_saw_end(store: Store) -> None:
    built = await build_fleet(store, "fleet-counts", 600)  # children of 255, 255 and 90
    await finish_children(store, built.workflow.id, running=2)  # the first ends; the other two run
    second, third = [w for w in await store.fleet.children_of(built.workflow.id) if w.finished_at is None]
    so_far = {resource_id(i): result(i) for i in range(255, 265)} | {resource_id(265): result(265, "failed")}
    state = {
        "phase": "poll",
        "admitted": True,
        "results": so_far,
        "ended": [resource_id(i) for i in range(266, 296)],
    }
    await raw_sql(store).execute(
        "UPDATE workflows SET state = $2 WHERE id = $1", second.id, json.loads(json.dumps(state))
    )
    await raw_sql(store).execute(
        """UPDATE workflows SET state = '{"admitted": false}' WHERE id = $1""", third.id
    )

    counts = await store.fleet.counts(built.workflow.id)
    assert (counts.succeeded, counts.failed, counts.ended) == (255 + 10, 1, 30)
    assert (counts.running, counts.waiting, counts.final) == (255 - 41, 90, 255 + 41)
    assert counts.bytes_protected == (255 * 40 + 10 * 2) * 1024**3

    page = await store.fleet.resource_page(built.workflow.id, 255, 12)
    assert [(r.resource_id, r.status) for r in page.rows[9:]] == [
        (resource_id(264), "succeeded"),
        (resource_id(265), "failed"),
        (resource_id(266), "running"),
    ]
    assert page.rows[0].backup_id == "bk-255"

    seen = await perform_store_action(store, built.workflow, ReadFleet())
    assert isinstance(seen, FleetSeen)
    t = fleet.transition(built.state, seen)
    progress = t.actions[0]
    assert isinstance(progress, Progress) and progress.percent == 100 * (255 + 41) // 600


async def test_a_fleet_over_two_projects_counts_and_reports_each_project_apart(store: Store) -> None:
    built = await build_fleet(store, "fleet-projects", 600)  # children of 255, 255 and 90
    other = ("e" * 32, "eu-west-0")
    await raw_sql(store).execute(  # the third child backs up servers of another project
        "UPDATE workflows SET project_id = $2, region = $3 WHERE parent_id = $1 AND command_id LIKE '%3'",
        built.workflow.id,
        *other,
    )
    await finish_children(store, built.workflow.id, failed_every=100, running=1)  # the 90 stay running

    tally = await store.fleet.tally(built.workflow.id)
    by_project = {(p.project_id, p.region): p for p in tally.projects}
    mine, theirs = by_project[(built.workflow.project_id, built.workflow.region)], by_project[other]
    assert (mine.total, mine.succeeded, mine.failed, mine.running, mine.children_final) == (510, 504, 6, 0, 2)
    assert (theirs.total, theirs.succeeded, theirs.running, theirs.children, theirs.children_final) == (
        90, 0, 90, 1, 0,
    )  # fmt: skip
    assert tally.counts.total == mine.total + theirs.total

    seen = await perform_store_action(store, built.workflow, ReadFleet())
    t = fleet.transition(built.state, seen)
    progress = t.actions[0]
    assert isinstance(progress, Progress) and progress.fleet is not None
    assert [(p.region, p.final) for p in progress.fleet.projects] == [  # by region, then project
        ("eu-west-0", 0),
        (built.workflow.region, 510),
    ]


async def test_a_fleet_in_one_project_reports_no_per_project_lines(store: Store) -> None:
    built = await build_fleet(store, "fleet-one-project", 300)
    await finish_children(store, built.workflow.id)
    seen = await perform_store_action(store, built.workflow, ReadFleet())
    assert isinstance(seen, FleetSeen) and len(seen.projects) == 1
    t = fleet.transition(built.state, seen)
    assert isinstance(t.state, fleet.FleetState) and t.state.projects == []
