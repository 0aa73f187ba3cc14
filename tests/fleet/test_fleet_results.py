"""A fleet's results at scale: a bounded final event, and every resource's result paged from PostgreSQL."""

from __future__ import annotations

from typing import Any

from cli_runner import run_cli
from fleet_builder import (
    FAILURE_CODE,
    FAILURE_MESSAGE,
    build_fleet,
    finish_children,
    resource_id,
    summarise,
)

from orchestrator.engine.store_actions import perform_store_action
from orchestrator.store import Store
from orchestrator.workflows.base import FleetSeen, ReadFleet
from orchestrator.workflows.fleet_packing import NO_ROOM

EVENT_LIMIT = 256 * 1024
FAILED_EVERY, UNREPORTED_EVERY = 97, 1009


def expected(i: int, child: int, running: bool = False) -> dict[str, Any]:
    """What a builder fleet holds for resource ``i`` (in child ``child``, numbered from 1)."""
    rid = resource_id(i)
    if running:
        return {"resource_id": rid, "status": "running"}
    if i % UNREPORTED_EVERY == 0:
        return {"resource_id": rid, "status": "failed", "error_code": "orchestrator.unreported"}
    if i % FAILED_EVERY == 0:
        return {"resource_id": rid, "status": "failed", "error_code": FAILURE_CODE}
    suffix = f"{child:06d}"
    return {
        "resource_id": rid,
        "status": "succeeded",
        "backup_id": f"bk-{rid}",
        "checkpoint_id": f"cp-{suffix}",
        "vault": f"vault-{suffix}",
    }


def seen(row: Any) -> dict[str, Any]:
    """The fields of a page row that ``expected`` states."""
    got = {"resource_id": row.resource_id, "status": row.status}
    if row.status == "failed":
        got["error_code"] = row.error_code
    if row.status == "succeeded":
        got |= {"backup_id": row.backup_id, "checkpoint_id": row.checkpoint_id, "vault": row.vault}
    return got


def is_problem(i: int) -> bool:
    return i % FAILED_EVERY == 0 or i % UNREPORTED_EVERY == 0


async def test_the_final_event_of_a_100000_resource_fleet_carries_counts_and_the_first_100_problems(
    store: Store,
) -> None:
    built = await build_fleet(store, "fleet-100k", 100_000)
    await finish_children(store, built.workflow.id, FAILED_EVERY, UNREPORTED_EVERY)
    summary = await summarise(store, built)

    assert summary.event_bytes() < EVENT_LIMIT // 4, summary.event_bytes()  # far below the bound
    assert summary.result_bytes() < EVENT_LIMIT // 4, summary.result_bytes()
    data = summary.event.body["data"]
    problems = [i for i in range(100_000) if is_problem(i)]
    report = data["fleet"]
    assert "backups" not in report  # no list of succeeded backups: they are read from PostgreSQL
    assert report["counts"]["total"] == 100_000 and report["counts"]["children"] == 393
    assert (report["counts"]["failed"], report["problems_total"]) == (len(problems), len(problems))
    assert report["counts"]["succeeded"] == 100_000 - len(problems)
    assert [r["resource_id"] for r in data["resources"]] == [resource_id(i) for i in problems[:100]]
    assert data["outcome"] == "partially_succeeded"
    assert {r["error_message"] for r in data["resources"] if r["error_code"] == FAILURE_CODE} == {
        FAILURE_MESSAGE
    }


async def test_pages_of_a_100000_resource_fleet_are_correct_and_complete(store: Store) -> None:
    built = await build_fleet(store, "fleet-100k-pages", 100_000)
    await finish_children(store, built.workflow.id, FAILED_EVERY, UNREPORTED_EVERY, running=2)
    running_from = 391 * 255  # the last two children (255 and 40 resources) still run
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await store.fleet.resource_page(built.workflow.id, offset, 7_000)
        assert page.total == 100_000 and page.offset == offset
        rows += [seen(r) for r in page.rows]
        if not page.rows:
            break
        assert [r.position for r in page.rows] == list(range(offset + 1, offset + len(page.rows) + 1))
        offset += len(page.rows)
    want = [expected(i, i // 255 + 1, running=i >= running_from) for i in range(100_000)]
    assert rows == want


async def test_a_page_spans_children_and_the_resources_no_vault_had_room_for(store: Store) -> None:
    held = [f"other-{i:03d}" for i in range(200)]  # the target vault has room for 56 more
    built = await build_fleet(store, "fleet-full-vault", 300, vaults={"v-full": held})
    await finish_children(store, built.workflow.id, FAILED_EVERY, UNREPORTED_EVERY)
    first = await store.fleet.resource_page(built.workflow.id, 0, 50)
    assert (first.total, len(first.rows)) == (300, 50)
    across = await store.fleet.resource_page(built.workflow.id, 50, 10)
    assert [r.resource_id for r in across.rows] == [resource_id(i) for i in range(50, 60)]
    assert [r.status for r in across.rows[:6]] == ["succeeded"] * 6
    assert {(r.status, r.error_code, r.vault) for r in across.rows[6:]} == {("skipped", NO_ROOM, None)}
    last = await store.fleet.resource_page(built.workflow.id, 290, 50)
    assert [r.position for r in last.rows] == list(range(291, 301))
    assert (await store.fleet.resource_page(built.workflow.id, 300, 50)).rows == []


async def test_status_shows_a_100000_resource_fleet_and_pages_its_resources(store: Store, dsn: str) -> None:
    built = await build_fleet(store, "fleet-100k-status", 100_000)
    await finish_children(store, built.workflow.id, FAILED_EVERY, UNREPORTED_EVERY)
    await summarise(store, built)

    shown = await run_cli(dsn, "status", "fleet-100k-status")
    assert shown.code == 0, shown.stderr
    assert "first 50 of 393 child backups" in shown.stdout
    assert "343 more; every resource: cbr-orchestrator status fleet-100k-status --resources" in shown.stdout
    problems = [i for i in range(100_000) if is_problem(i)]
    assert f"first 50 of {len(problems)} failed or skipped resources" in shown.stdout
    assert resource_id(problems[49]) in shown.stdout and resource_id(problems[50]) not in shown.stdout

    paged = await run_cli(
        dsn, "status", "fleet-100k-status", "--resources", "--offset", "970", "--limit", "5"
    )
    assert paged.code == 0, paged.stderr
    lines = [line for line in paged.stdout.splitlines() if "srv-" in line]
    assert [line.split()[1] for line in lines] == [resource_id(i) for i in range(970, 975)]
    assert f"bk-{resource_id(971)}" in lines[1] and FAILURE_CODE in lines[0]  # 970 = 10 × 97
    assert "resources 971–975 of 100000" in paged.stdout and "--offset 975" in paged.stdout


async def test_a_watch_read_that_finds_every_child_final_brings_the_first_problems(store: Store) -> None:
    """The fleet then summarises from that read: its final event needs no second scan of the results."""
    built = await build_fleet(store, "fleet-final-read", 600)
    await finish_children(store, built.workflow.id, FAILED_EVERY, UNREPORTED_EVERY, running=1)
    still_running = await perform_store_action(store, built.workflow, ReadFleet())
    assert isinstance(still_running, FleetSeen) and still_running.results == ()
    await finish_children(store, built.workflow.id, FAILED_EVERY, UNREPORTED_EVERY)
    every_final = await perform_store_action(store, built.workflow, ReadFleet())
    assert isinstance(every_final, FleetSeen)
    problems = [i for i in range(600) if is_problem(i)]
    assert [r.resource_id for r in every_final.results] == [resource_id(i) for i in problems]
