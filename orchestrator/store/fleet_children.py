"""A fleet's children in the database: created idempotently, counted, and their results gathered."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from orchestrator.messages import FleetCounts, ResourceResult
from orchestrator.store.fleet_sql import fq
from orchestrator.store.models import Workflow
from orchestrator.store.store import Store
from orchestrator.workflows.base import ChildSpec

GIB = 1024**3


class ChildConflict(RuntimeError):
    """A child's id is held by a workflow that is not this fleet's child: the fleet cannot go on as planned.
    (Child ids are outside the commands' namespace, so this is a bug or a hand-made row, never a command.)"""


async def spawn(store: Store, parent_id: uuid.UUID, children: Sequence[tuple[uuid.UUID, ChildSpec]]) -> int:
    """Create the children (workflow id, spec) not created yet, then check in the same transaction that
    every one is there as this parent's child; how many there are. Raise :class:`ChildConflict` if not."""
    rows = [(wid, c.command_id, c.kind, c.project_id, c.region, c.input, parent_id) for wid, c in children]
    async with store.pool.acquire() as conn, conn.transaction():
        if rows:
            await conn.executemany(fq("insert_child"), rows)
        ids, command_ids = [r[0] for r in rows], [r[1] for r in rows]
        taken = [r["command_id"] for r in await conn.fetch(fq("children_taken"), parent_id, ids, command_ids)]
    if taken:
        raise ChildConflict(
            f"{len(taken)} of the {len(rows)} children of fleet {parent_id} are held by other workflows, "
            f"first {taken[0]!r}"
        )
    return len(rows)


async def counts(store: Store, parent_id: uuid.UUID) -> FleetCounts:
    """Resources by state, summed over the children (one row per child, so cheap for 10,000 resources)."""
    total = waiting = running = succeeded = failed = skipped = gb = final_children = 0
    rows = await store.pool.fetch(fq("children_counts"), parent_id)
    for row in rows:
        n = row["resources"]
        total += n
        if not row["final"]:
            running += n if row["admitted"] else 0
            waiting += 0 if row["admitted"] else n
            continue
        final_children += 1
        by_status: dict[str, int] = row["by_status"]
        succeeded += by_status.get("succeeded", 0)
        skipped += by_status.get("skipped", 0)
        failed += n - by_status.get("succeeded", 0) - by_status.get("skipped", 0)  # unreported: failed
        gb += row["succeeded_gb"]
    return FleetCounts(
        total=total,
        waiting=waiting,
        running=running,
        succeeded=succeeded,
        failed=failed,
        skipped=skipped,
        bytes_protected=gb * GIB,
        children=len(rows),
        children_final=final_children,
    )


async def results(store: Store, parent_id: uuid.UUID) -> list[ResourceResult]:
    """Every resource's final result; a resource its child did not report is failed with the child's error."""
    out: list[ResourceResult] = []
    for row in await store.pool.fetch(fq("children_results"), parent_id):
        reported = {r["resource_id"]: r for r in row["results"]}
        for wanted in row["wanted"]:
            got = reported.get(wanted["id"]) or _unreported(wanted, row)
            out.append(ResourceResult.model_validate(got))
    return out


def _unreported(wanted: dict[str, Any], row: Any) -> dict[str, Any]:
    return {
        "resource_id": wanted["id"],
        "resource_type": wanted.get("type"),
        "status": "failed",
        "error_code": row["error_code"] or "orchestrator.unreported",
        "error_message": row["error_message"]
        or f"child backup ended {row['status']} without a result for it",
    }


async def children_of(store: Store, parent_id: uuid.UUID) -> list[Workflow]:
    return [Workflow.from_record(r) for r in await store.pool.fetch(fq("children_of"), parent_id)]
