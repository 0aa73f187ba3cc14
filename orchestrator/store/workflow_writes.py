"""The engine's per-workflow writes (admit, save, release until, finish), batched across workflows.

Each is one lease-guarded row of a ``*_logged`` batch statement (``queries/workflows.sql``): the workflow's
state, its steps and, when it finishes, its released locks and final event, all in that one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.store.models import WORKFLOWS_CHANNEL, Claim, Finish, OutboxEvent, Step
from orchestrator.store.named_sql import q
from orchestrator.store.write_batch import WriteBatch


@dataclass(frozen=True)
class _Row:
    claim: Claim
    state: dict[str, Any]
    steps: Sequence[Step]

    @property
    def workflow_id(self) -> uuid.UUID:
        return self.claim.workflow_id


@dataclass(frozen=True)
class SaveRow(_Row):
    lease_seconds: float


@dataclass(frozen=True)
class ReleaseRow(_Row):
    run_at: datetime
    cancel_seen: bool = False  # its run saw a request to cancel (one it did not see: due at once)


@dataclass(frozen=True)
class FinishRow(_Row):
    finish: Finish
    event: OutboxEvent | None


@dataclass(frozen=True)
class LockRow:
    """A single-resource backup under no cap asking for its resource's lock."""

    claim: Claim
    project_id: str
    region: str
    resource_id: str

    @property
    def workflow_id(self) -> uuid.UUID:
        return self.claim.workflow_id


class WorkflowWrites:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.saves = WriteBatch[SaveRow](self._save, _workflow_of)
        self.releases = WriteBatch[ReleaseRow](self._release, _workflow_of)
        self.finishes = WriteBatch[FinishRow](self._finish, _workflow_of)
        self.locks = WriteBatch[LockRow](self._lock, lambda row: row.workflow_id)

    async def drain(self) -> None:
        """Let every batched write in flight finish, so none holds a connection when the pool closes."""
        for batch in (self.saves, self.releases, self.finishes, self.locks):
            await batch.drain()

    async def _lock(self, rows: Sequence[LockRow]) -> set[uuid.UUID]:
        records = await self._pool.fetch(
            q("lock_one_resource_each"),
            [r.project_id for r in rows],
            [r.region for r in rows],
            [r.resource_id for r in rows],
            [r.workflow_id for r in rows],
            [r.claim.owner for r in rows],
            [r.claim.epoch for r in rows],
        )
        return {rec["id"] for rec in records}

    async def _save(self, rows: Sequence[SaveRow]) -> set[uuid.UUID]:
        return await self._run("save_states_logged", rows, [r.lease_seconds for r in rows])

    async def _release(self, rows: Sequence[ReleaseRow]) -> set[uuid.UUID]:
        return await self._run(
            "releases_until_logged", rows, [r.run_at for r in rows], [r.cancel_seen for r in rows]
        )

    async def _finish(self, rows: Sequence[FinishRow]) -> set[uuid.UUID]:
        return await self._run(
            "finishes_logged",
            rows,
            [r.finish.status.value for r in rows],
            [r.finish.result for r in rows],
            [r.finish.error_code for r in rows],
            [r.finish.error_message for r in rows],
            [r.event.event_id if r.event else None for r in rows],
            [r.event.routing_key if r.event else None for r in rows],
            [r.event.body if r.event else None for r in rows],
            [r.event.reply_to if r.event else None for r in rows],
            [r.event.correlation_id if r.event else None for r in rows],
            after_steps=(WORKFLOWS_CHANNEL,),  # a fleet woken by its child's end is claimed at once
        )

    async def _run(
        self, query: str, rows: Sequence[_Row], *columns: list[Any], after_steps: tuple[Any, ...] = ()
    ) -> set[uuid.UUID]:
        records = await self._pool.fetch(
            q(query),
            [r.workflow_id for r in rows],
            [r.claim.owner for r in rows],
            [r.claim.epoch for r in rows],
            [r.state for r in rows],
            *columns,
            *_step_columns(rows),
            *after_steps,
        )
        return {rec["id"] for rec in records}


def _workflow_of(row: _Row) -> uuid.UUID:
    return row.workflow_id


def _step_columns(rows: Sequence[_Row]) -> tuple[list[Any], ...]:
    """Every row's steps as the parallel arrays the statements unnest, each with its workflow id."""
    owned = [(r.workflow_id, s) for r in rows for s in r.steps]
    return (
        [wid for wid, _ in owned],
        [s.operation for _, s in owned],
        [s.request for _, s in owned],
        [s.outcome.value for _, s in owned],
        [s.response for _, s in owned],
        [s.error_code for _, s in owned],
        [s.error_message for _, s in owned],
        [s.started_at for _, s in owned],
        [s.finished_at for _, s in owned],
    )
