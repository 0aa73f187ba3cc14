"""The protection posture's rows (``store.posture``): the state each protectable was last recorded in, its
staleness episodes, and the episode whose backup command was submitted (``sql/016_posture.sql``).

A change of state and its event are written in one transaction, under a per-project advisory lock: the
changes are decided against the states read inside it, so two recorders, or one after a restart, never
tell a change twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from orchestrator.store.models import OutboxEvent
from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class Known:
    state: str
    episode: int
    acted_episode: int


@dataclass(frozen=True)
class StateChange:
    resource_id: str
    state: str
    episode: int


@dataclass(frozen=True)
class PosturePlan:
    """What a recorder decided against the known states: the changes, and the events telling them."""

    changes: list[StateChange] = field(default_factory=list)
    events: list[OutboxEvent] = field(default_factory=list)


@dataclass(frozen=True)
class ToAct:
    resource_id: str
    episode: int
    state: str
    resource_type: str
    vault_id: str


class PostureBook:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self,
        project_id: str,
        listed: Sequence[str],
        at: datetime,
        decide: Callable[[dict[str, Known]], PosturePlan],
    ) -> PosturePlan:
        """``decide`` the changes against the states known now (``listed``: every resource CBR lists; the
        others are forgotten), and write them with their events, at ``at``."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(q("posture_lock"), project_id)
            rows = await conn.fetch(q("posture_known"), project_id)
            plan = decide({r["resource_id"]: _known(r) for r in rows})
            changes = plan.changes
            await conn.execute(
                q("posture_save_changes"),
                project_id,
                [c.resource_id for c in changes],
                [c.state for c in changes],
                [c.episode for c in changes],
                at,
            )
            await conn.execute(q("posture_forget_gone"), project_id, list(listed))
            await conn.execute(
                q("posture_insert_events"),
                [e.event_id for e in plan.events],
                [e.routing_key for e in plan.events],
                [json.dumps(e.body) for e in plan.events],
            )
        return plan

    async def to_act(self, project_id: str, limit: int) -> list[ToAct]:
        rows = await self._pool.fetch(q("posture_to_act"), project_id, limit)
        return [
            ToAct(r["resource_id"], r["episode"], r["state"], r["resource_type"], r["vault_id"]) for r in rows
        ]

    async def mark_acted(self, project_id: str, resource_id: str, episode: int) -> None:
        await self._pool.execute(q("posture_mark_acted"), project_id, resource_id, episode)

    async def states(self, project_id: str) -> dict[str, Known]:
        rows = await self._pool.fetch(q("posture_states_of"), project_id)
        return {r["resource_id"]: _known(r) for r in rows}


def _known(row: asyncpg.Record) -> Known:
    return Known(row["state"], row["episode"], row["acted_episode"])
