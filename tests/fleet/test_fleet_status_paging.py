"""``status`` of a large fleet reads pages, never the whole fleet: counted in rows each query brings back
from PostgreSQL (through a pool that counts them), not in seconds."""

from __future__ import annotations

import json
from typing import Any, cast

import asyncpg
from cli_runner import run_cli
from fleet_builder import build_fleet, finish_children, resource_id
from store_rows import raw_sql

from orchestrator.store import Store
from orchestrator.store.fleet_children import FleetChildren
from orchestrator.store.status import CHILDREN_SHOWN, PROBLEMS_SHOWN, STEPS_SHOWN, StatusReads

RESOURCES = 15_000  # 59 children of 255 (the last of 210)
CHILDREN = 59
STEPS = 2_500  # a page of listing per step, as a fleet selected by protectables records them
FAILED_EVERY = 7


class CountingPool:
    """The store's own pool, counting the rows each query answers with."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.rows: list[int] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        found: list[asyncpg.Record] = await self._pool.fetch(query, *args)
        self.rows.append(len(found))
        return found

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        found: asyncpg.Record | None = await self._pool.fetchrow(query, *args)
        self.rows.append(0 if found is None else 1)
        return found

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.rows.append(1)
        return await self._pool.fetchval(query, *args)

    def reads(self) -> tuple[StatusReads, FleetChildren]:
        pool = cast(asyncpg.Pool, self)
        children = FleetChildren(pool)
        return StatusReads(pool, children), children


async def large_fleet(store: Store, command_id: str) -> Any:
    built = await build_fleet(store, command_id, RESOURCES)
    await finish_children(store, built.workflow.id, failed_every=FAILED_EVERY)
    await raw_sql(store).execute(
        """INSERT INTO steps (workflow_id, worker, operation, request, outcome, response, started_at,
                              finished_at)
           SELECT $1, 'w', 'ListProtectables', jsonb_build_object('marker', 'srv-' || n), 'ok',
                  jsonb_build_object('items', n), now(), now()
             FROM generate_series(1, $2) AS n""",
        built.workflow.id,
        STEPS,
    )
    return built


async def test_a_fleets_detail_reads_its_last_steps_and_first_children_and_problems_only(
    store: Store,
) -> None:
    built = await large_fleet(store, "fleet-status-pages")
    counting = CountingPool(raw_sql(store))
    status, _ = counting.reads()

    detail = await status.detail("fleet-status-pages")

    assert detail is not None and detail.fleet is not None
    assert (len(detail.steps), detail.steps_count) == (STEPS_SHOWN, STEPS)
    assert [s.step.request for s in detail.steps[-2:]] == [{"marker": "srv-2499"}, {"marker": "srv-2500"}]
    assert (len(detail.fleet.children), detail.fleet.children_total) == (CHILDREN_SHOWN, CHILDREN)
    failed = [i for i in range(RESOURCES) if i % FAILED_EVERY == 0]
    assert [r.resource_id for r in detail.fleet.problems] == [resource_id(i) for i in failed[:PROBLEMS_SHOWN]]
    assert max(counting.rows) <= STEPS_SHOWN  # no query brought back the fleet's resources or steps
    assert sum(counting.rows) <= STEPS_SHOWN + CHILDREN_SHOWN + PROBLEMS_SHOWN + 10, counting.rows
    assert built.workflow.id == detail.workflow.id


async def test_a_fleets_resources_are_read_a_page_at_a_time(store: Store) -> None:
    built = await large_fleet(store, "fleet-resource-pages")
    counting = CountingPool(raw_sql(store))
    _, children = counting.reads()

    seen: list[str] = []
    offset, limit = 0, 1_000
    while True:
        before = len(counting.rows)
        page = await children.resource_page(built.workflow.id, offset, limit)
        assert max(counting.rows[before:]) <= limit  # one page brought back, whatever the fleet's size
        if not page.rows:
            break
        assert page.total == RESOURCES and [r.position for r in page.rows][:1] == [offset + 1]
        seen += [r.resource_id for r in page.rows]
        offset += len(page.rows)
    assert seen == [resource_id(i) for i in range(RESOURCES)]

    before = len(counting.rows)
    tally = await children.tally(built.workflow.id)
    assert counting.rows[before:] == [CHILDREN]  # one row per child, not one per resource
    assert (tally.counts.total, tally.counts.failed) == (RESOURCES, len(range(0, RESOURCES, FAILED_EVERY)))


async def test_status_says_how_many_steps_it_leaves_out(store: Store, dsn: str) -> None:
    await large_fleet(store, "fleet-status-steps")
    shown = await run_cli(dsn, "status", "fleet-status-steps")
    assert shown.code == 0, shown.stderr
    assert f"step history: the last {STEPS_SHOWN} of {STEPS} steps" in shown.stdout
    as_json = json.loads((await run_cli(dsn, "status", "fleet-status-steps", "--json")).stdout)
    assert (len(as_json["steps"]), as_json["steps_total"]) == (STEPS_SHOWN, STEPS)


async def test_children_carry_their_size_and_those_spawned_before_it_are_read_from_their_command(
    store: Store,
) -> None:
    built = await build_fleet(store, "fleet-child-sizes", 600)  # children of 255, 255 and 90
    sizes = await raw_sql(store).fetch(
        "SELECT resources_count FROM workflows WHERE parent_id = $1 ORDER BY command_id", built.workflow.id
    )
    assert [r["resources_count"] for r in sizes] == [255, 255, 90]
    await raw_sql(store).execute(  # as spawned before sql/017: no size of its own
        "UPDATE workflows SET resources_count = NULL WHERE parent_id = $1", built.workflow.id
    )
    page = await store.fleet.resource_page(built.workflow.id, 510, 5)
    assert (page.total, [r.position for r in page.rows]) == (600, [511, 512, 513, 514, 515])
    assert [r.resource_id for r in page.rows] == [resource_id(i) for i in range(510, 515)]
    assert (await store.fleet.counts(built.workflow.id)).total == 600
