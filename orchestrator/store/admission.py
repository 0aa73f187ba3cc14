"""Admission in the database: a backup starts only holding its resources' locks and a slot per cap.

Locks are rows of ``resource_locks`` (shared with restores: a resource never has two active backups,
nor a backup beside a restore). A cap is a set of numbered slots under a scope whose primary key makes
more than ``cap`` holders impossible, however many workers admit at once. All or nothing: one
transaction; when something is taken, nothing is kept. Everything held ends with the workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from orchestrator.store.fleet_sql import fq
from orchestrator.store.models import Claim
from orchestrator.store.store import Conn, Store


class _NotAdmitted(Exception):
    pass


async def admit(
    store: Store,
    claim: Claim,
    project_id: str,
    region: str,
    resource_ids: Sequence[str],
    scopes: Sequence[tuple[str, int]] = (),
) -> bool:
    """True when the claimed workflow now holds every lock and one slot under each scope (or held them
    already); raises :class:`~orchestrator.store.LeaseLost` when its run no longer holds the lease."""
    if not scopes and len(resource_ids) == 1:  # a single-server backup: one row of a shared statement
        return await store.lock_alone(claim, project_id, region, resource_ids[0])
    workflow_id = claim.workflow_id
    try:
        async with store.fenced(claim) as conn:
            for scope, cap in scopes:  # caps first: the cheap refusal when a fleet waits on them
                if await conn.fetchval(fq("take_slot"), scope, workflow_id, cap) is None:
                    raise _NotAdmitted()
            await _lock_all(conn, workflow_id, project_id, region, sorted(resource_ids))
    except (_NotAdmitted, asyncpg.DeadlockDetectedError, asyncpg.UniqueViolationError):
        return False
    return True


async def _lock_all(conn: Conn, workflow_id: uuid.UUID, project_id: str, region: str, ids: list[str]) -> None:
    if not ids:
        return
    await conn.execute(fq("lock_resources"), project_id, region, ids, workflow_id)
    if await conn.fetchval(fq("locked_by_others"), project_id, region, ids, workflow_id):
        raise _NotAdmitted()


async def slots_held(store: Store) -> dict[str, int]:
    """Admitted workflows per scope, now."""
    rows = await store.pool.fetch(fq("admission_holders"))
    return {r["scope"]: r["n"] for r in rows}
