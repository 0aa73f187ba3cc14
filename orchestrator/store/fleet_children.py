"""A fleet's children in the database: created idempotently, counted, and their results read page by page.

A fleet of 100,000 resources has about 400 children of up to 256 resources each: what is read of them is
either one row per child (counts) or one page of resources, numbered and paged in SQL, never all at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from orchestrator.messages import CANCELLED, WINDOW_CLOSED, FleetCounts, ProjectCounts, ResourceResult
from orchestrator.store.fencing import check_written, fenced
from orchestrator.store.models import ChildConflict, Claim, NewChild, ParentSave, Workflow
from orchestrator.store.named_sql import q

GIB = 1024**3


@dataclass(frozen=True)
class ResourceRow:
    """One resource of a fleet, numbered from 1 in the fleet's order: its result, or where it stands."""

    position: int
    resource_id: str
    resource_type: str | None
    status: str  # succeeded, failed, skipped; waiting or running while its child is not final
    backup_id: str | None = None
    checkpoint_id: str | None = None
    vault: str | None = None
    size_gb: int | None = None
    error_code: str | None = None
    error_message: str | None = None

    def as_result(self) -> ResourceResult:
        return ResourceResult.model_validate({k: getattr(self, k) for k in ResourceResult.model_fields})


@dataclass(frozen=True)
class ResourcePage:
    rows: list[ResourceRow]
    offset: int  # resources before the first row
    total: int  # resources of the fleet (in its children, and those no vault had room for)


@dataclass(frozen=True)
class ChildRow:
    """A child as ``status`` lists it (no command, state or result loaded)."""

    command_id: str
    status: str
    resources: int
    vault: str | None
    error_code: str | None
    error_message: str | None


class FleetChildren:
    """A fleet's children, as the store hands them out (``store.fleet``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def spawn(self, parent: Claim, children: Sequence[NewChild], save: ParentSave | None = None) -> int:
        """Create the children not created yet, then check in the same transaction that every one is
        there as this parent's child; how many there are. Raise :class:`ChildConflict` if not (and
        :class:`~orchestrator.store.LeaseLost` when the parent's run no longer holds its lease). With
        ``save``, the parent's state is saved in that transaction too (its selection's progress: a crash
        leaves both or neither)."""
        parent_id = parent.workflow_id
        rows = [
            (c.workflow_id, c.command_id, c.kind, c.project_id, c.region, c.input, parent_id)
            for c in children
        ]
        async with fenced(self._pool, parent) as conn:
            if rows:
                await conn.executemany(q("insert_child"), rows)
            ids, command_ids = [r[0] for r in rows], [r[1] for r in rows]
            found = await conn.fetch(q("children_taken"), parent_id, ids, command_ids)
            if save is not None and not found:
                where = (parent_id, parent.owner, parent.epoch)
                check_written(await conn.fetchval(q("save_state"), *where, save.state, save.lease_seconds))
        taken = [r["command_id"] for r in found]
        if taken:
            raise ChildConflict(
                f"{len(taken)} of the {len(rows)} children of fleet {parent_id} are held by other "
                f"workflows, first {taken[0]!r}"
            )
        return len(rows)

    async def counts(self, parent_id: uuid.UUID) -> FleetCounts:
        """Resources by state, summed over the children (one row per child, so cheap for 100,000
        resources): a running child's resources count as their backup tasks end (its state's ``ended``
        and ``results``)."""
        return (await self.tally(parent_id)).counts

    async def tally(self, parent_id: uuid.UUID) -> FleetTally:
        """The counts, in all and per project (the same one row per child)."""
        rows = await self._pool.fetch(q("children_counts"), parent_id, WINDOW_CLOSED, CANCELLED)
        return tally_children(rows)

    async def children_problems(self, parent_id: uuid.UUID, limit: int) -> list[ResourceResult]:
        """The first ``limit`` failed or skipped resources of final children, in the fleet's order."""
        rows = await self._pool.fetch(q("children_resources"), parent_id, 0, limit, True)
        return [child_resource(r).as_result() for r in rows]

    async def first_problems(self, parent_id: uuid.UUID, limit: int) -> list[ResourceRow]:
        """The first ``limit`` failed or skipped resources: the children's, then those no vault had room
        for."""
        found = await self._pool.fetch(q("children_resources"), parent_id, 0, limit, True)
        rows = [child_resource(r) for r in found]
        if len(rows) < limit:
            in_children, _ = await self._sizes(parent_id)
            rows += await self._unplaced(parent_id, in_children, 0, limit - len(rows))
        return rows

    async def resource_page(self, parent_id: uuid.UUID, offset: int, limit: int) -> ResourcePage:
        """Resources ``offset + 1`` to ``offset + limit`` of the fleet, each with its result or state."""
        in_children, unplaced = await self._sizes(parent_id)
        found = await self._pool.fetch(q("children_resources"), parent_id, offset, limit, False)
        rows = [child_resource(r) for r in found]
        if len(rows) < limit and offset + limit > in_children:
            after = max(offset, in_children)
            rows += await self._unplaced(parent_id, in_children, after, limit - len(rows))
        return ResourcePage(rows, offset, in_children + unplaced)

    async def children_page(self, parent_id: uuid.UUID, limit: int) -> tuple[list[ChildRow], int]:
        """The first ``limit`` children, and how many there are."""
        rows = await self._pool.fetch(q("children_page"), parent_id, limit)
        total: int = await self._pool.fetchval(q("children_total"), parent_id)
        return [ChildRow(**dict(r)) for r in rows], total

    async def children_of(self, parent_id: uuid.UUID) -> list[Workflow]:
        """Every child in full (tests and small fleets; ``children_page`` is what ``status`` reads)."""
        return [Workflow.from_record(r) for r in await self._pool.fetch(q("children_of"), parent_id)]

    async def _sizes(self, parent_id: uuid.UUID) -> tuple[int, int]:
        row = await self._pool.fetchrow(q("resources_sizes"), parent_id)
        assert row is not None  # one row, whatever the parent
        return int(row["in_children"]), int(row["unplaced"] or 0)

    async def _unplaced(
        self, parent_id: uuid.UUID, in_children: int, after: int, limit: int
    ) -> list[ResourceRow]:
        rows = await self._pool.fetch(q("unplaced_resources"), parent_id, in_children, after, limit)
        return [_reported(r["position"], r["reported"]) for r in rows]


@dataclass(frozen=True)
class FleetTally:
    counts: FleetCounts
    projects: list[ProjectCounts]  # one per project of the children, by region then project


def tally_children(rows: Sequence[Any]) -> FleetTally:
    """Counts from the children's rows (``children_counts``): in all, and per (project, region)."""
    whole = ChildTally()
    per_project: dict[tuple[str, str], tuple[ChildTally, list[int]]] = {}
    for row in rows:
        whole.add(row)
        tally, children = per_project.setdefault((row["project_id"], row["region"]), (ChildTally(), [0]))
        tally.add(row)
        children[0] += 1
    projects = [
        ProjectCounts(
            project_id=p, region=r, **tally.resources(), children=n, children_final=tally.children_final
        )
        for (p, r), (tally, [n]) in sorted(per_project.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    return FleetTally(whole.counts(len(rows)), projects)


@dataclass
class ChildTally:
    """Resources by state, summed child by child (a child's row: ``children_counts``)."""

    total: int = 0
    waiting: int = 0
    running: int = 0
    ended: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    window_closed: int = 0
    cancelled: int = 0
    gb: int = 0
    children_final: int = 0

    def add(self, row: Any) -> None:
        n, by_status = row["resources"], row["by_status"]
        ok, skipped = by_status.get("succeeded", 0), by_status.get("skipped", 0)
        self.total += n
        self.succeeded += ok
        self.skipped += skipped
        self.window_closed += row["window_closed"]
        self.cancelled += row["cancelled"]
        self.gb += row["succeeded_gb"]
        if row["final"]:
            self.children_final += 1
            self.failed += n - ok - skipped  # unreported: failed
            return
        self.failed += by_status.get("failed", 0)
        self.ended += row["ended"]
        unfinished = n - sum(by_status.values()) - row["ended"]
        if row["admitted"]:
            self.running += unfinished
        else:
            self.waiting += unfinished

    def counts(self, children: int) -> FleetCounts:
        fields = {k: v for k, v in vars(self).items() if k != "gb"}
        return FleetCounts(**fields, bytes_protected=self.gb * GIB, children=children)

    def resources(self) -> dict[str, int]:
        """The resources by state, as :class:`ProjectCounts` has them."""
        names = ("total", "waiting", "running", "ended", "succeeded", "failed", "skipped")
        return {name: getattr(self, name) for name in names}


def child_resource(row: Any) -> ResourceRow:
    """A resource of a child: as the child reported it; failed with the child's error when it did not."""
    position, rid, rtype = row["position"], row["resource_id"], row["resource_type"]
    where = {"checkpoint_id": row["checkpoint_id"], "vault": row["vault"]}
    if row["reported"] is not None:
        return _reported(position, row["reported"], **where)
    if not row["final"]:
        return ResourceRow(position, rid, rtype, "running" if row["admitted"] else "waiting", **where)
    return ResourceRow(
        position,
        rid,
        rtype,
        "failed",
        error_code=row["error_code"] or "orchestrator.unreported",
        error_message=row["error_message"] or f"child backup ended {row['status']} without a result for it",
        **where,
    )


def _reported(position: int, result: dict[str, Any], **where: str | None) -> ResourceRow:
    r = ResourceResult.model_validate(result)
    return ResourceRow(
        position,
        r.resource_id,
        r.resource_type,
        r.status,
        backup_id=r.backup_id,
        size_gb=r.size_gb,
        error_code=r.error_code,
        error_message=r.error_message,
        **where,
    )
