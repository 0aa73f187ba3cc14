"""Admission in the database: a backup starts only holding its resources' locks and room under each cap.

Locks are rows of ``resource_locks`` (shared with restores: a resource never has two active backups,
nor a backup beside a restore). A holder of a cap is a row of ``admission_slots`` under the cap's scope.
Two units:

- per holder (a vault's cap, in backups): slots numbered below the cap, whose primary key makes more than
  ``cap`` holders impossible, however many workers admit at once;
- per resource (a project's cap, in backup tasks as CBR counts them): a holder counts for the resources
  it has not backed up yet (its state's ``pending``, which shrinks as its backups end, read live), at most
  the cap each; a backup is admitted when its resources fit beside them. Admitters of one scope take its
  advisory lock first, so each counts what the one before it committed. A backup larger than the cap
  counts as the cap: it starts once nothing else holds any, and never waits forever for room it cannot
  have (a fleet never makes one: its children hold at most ``project_tasks`` resources).

All or nothing: one transaction; when something is refused, nothing is kept. Everything held ends with
the workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from orchestrator.store.fencing import Conn, fenced
from orchestrator.store.models import AdmissionCap, Claim
from orchestrator.store.named_sql import q
from orchestrator.store.workflow_writes import LockRow, WorkflowWrites


class _NotAdmitted(Exception):
    pass


class Admission:
    """Locks and caps, as the store hands them out (``store.admission``)."""

    def __init__(self, pool: asyncpg.Pool, writes: WorkflowWrites) -> None:
        self._pool = pool
        self._writes = writes

    async def admit(
        self,
        claim: Claim,
        project_id: str,
        region: str,
        resource_ids: Sequence[str],
        caps: Sequence[AdmissionCap] = (),
    ) -> bool:
        """True when the claimed workflow now holds every lock and room under each cap (or held them
        already); raises :class:`~orchestrator.store.LeaseLost` when its run no longer holds the lease."""
        if not caps and len(resource_ids) == 1:  # a single-server backup: one row of a shared statement
            return await self.lock_alone(claim, project_id, region, resource_ids[0])
        workflow_id = claim.workflow_id
        try:
            async with fenced(self._pool, claim) as conn:
                for cap in caps:  # caps first: the cheap refusal when a fleet waits on them
                    if not await _take(conn, cap, workflow_id, len(resource_ids)):
                        raise _NotAdmitted()
                await _lock_all(conn, workflow_id, project_id, region, sorted(resource_ids))
        except (_NotAdmitted, asyncpg.DeadlockDetectedError, asyncpg.UniqueViolationError):
            return False
        return True

    async def lock_alone(self, claim: Claim, project_id: str, region: str, resource_id: str) -> bool:
        """Admission of a single-resource backup under no cap (batched with others): True when it holds
        the resource's lock (now or already)."""
        return await self._writes.locks.write(LockRow(claim, project_id, region, resource_id))

    async def slots_held(self) -> dict[str, int]:
        """Admitted workflows per scope, now."""
        rows = await self._pool.fetch(q("admission_holders"))
        return {r["scope"]: r["n"] for r in rows}

    async def tasks_held(self, scope: str, cap: int) -> int:
        """Backup tasks counted against a per-resource cap now: its holders' resources not backed up yet."""
        return int(await self._pool.fetchval(q("tasks_in_flight"), scope, cap))


async def _take(conn: Conn, cap: AdmissionCap, workflow_id: uuid.UUID, resources: int) -> bool:
    if not cap.per_resource:
        return await conn.fetchval(q("take_slot"), cap.scope, workflow_id, cap.limit) is not None
    await conn.execute(q("lock_scope"), cap.scope)
    tasks = min(resources, cap.limit)
    return await conn.fetchval(q("take_tasks"), cap.scope, workflow_id, cap.limit, tasks) is not None


async def _lock_all(conn: Conn, workflow_id: uuid.UUID, project_id: str, region: str, ids: list[str]) -> None:
    if not ids:
        return
    await conn.execute(q("lock_resources"), project_id, region, ids, workflow_id)
    if await conn.fetchval(q("locked_by_others"), project_id, region, ids, workflow_id):
        raise _NotAdmitted()
