"""The coverage ledger's rows: each project's protectables, the last good backup of each resource that
CBR lists, and where the last refresh got to (``store.coverage``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class Protectable:
    resource_id: str
    resource_type: str
    name: str | None
    vault_id: str | None  # None: bound to no vault
    vault_name: str | None
    vault_tags: dict[str, str] | None = None  # as the protectable listing shows its vault


@dataclass(frozen=True)
class GoodBackup:
    resource_id: str
    backup_id: str
    vault_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Cursor:
    newest_backup_at: datetime | None  # the next incremental listing starts here
    full_pass_at: datetime | None


@dataclass(frozen=True)
class LedgerRow:
    project_id: str
    resource_id: str
    resource_type: str
    name: str | None
    vault_id: str | None
    vault_name: str | None
    backup_id: str | None
    last_backup_at: datetime | None  # the newer of CBR's listing and our workflows' results
    age_seconds: float | None
    vault_tags: dict[str, str] | None = None


class CoverageLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def cursor(self, project_id: str) -> Cursor | None:
        row = await self._pool.fetchrow(q("coverage_cursor"), project_id)
        return None if row is None else Cursor(row["newest_backup_at"], row["full_pass_at"])

    async def save(
        self,
        project_id: str,
        protectables: Sequence[Protectable],
        backups: Sequence[GoodBackup],
        cursor: Cursor,
        full: bool,
    ) -> None:
        """One refresh's findings, in one transaction: the protectables as listed now; the backups added to
        the ledger's (``full``: in place of them, so that deleted ones leave); the cursor."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(q("coverage_forget_resources"), project_id)
            await conn.execute(q("coverage_insert_resources"), project_id, *_columns(protectables))
            if full:
                await conn.execute(q("coverage_forget_backups"), project_id)
            await conn.execute(
                q("coverage_upsert_backups"),
                project_id,
                [b.resource_id for b in backups],
                [b.backup_id for b in backups],
                [b.vault_id for b in backups],
                [b.created_at for b in backups],
            )
            await conn.execute(
                q("coverage_save_cursor"), project_id, cursor.newest_backup_at, cursor.full_pass_at
            )

    @asynccontextmanager
    async def refresh_turn(self) -> AsyncIterator[bool]:
        """Whether this process may refresh now: true for one process at a time, until the block ends (a
        transaction-level lock, so a process that dies or is cancelled lets it go with its transaction)."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield bool(await conn.fetchval(q("coverage_refresh_turn")))

    async def refreshed_within(self, project_id: str, seconds: float) -> bool:
        return bool(await self._pool.fetchval(q("coverage_refreshed_since"), project_id, seconds))

    async def has_rows(self) -> bool:
        return bool(await self._pool.fetchval(q("coverage_has_rows")))

    async def entries(
        self, projects: Sequence[str] | None = None, at: datetime | None = None
    ) -> list[LedgerRow]:
        """Every protectable of ``projects`` (None: of every project), with ages at ``at`` (None: now)."""
        chosen = None if projects is None else list(projects)
        rows = await self._pool.fetch(q("coverage_entries"), chosen, at)
        return [
            LedgerRow(
                r["project_id"],
                r["resource_id"],
                r["resource_type"],
                r["name"],
                r["vault_id"],
                r["vault_name"],
                r["backup_id"],
                r["last_backup_at"],
                None if r["age"] is None else max(r["age"], 0.0),
                r["vault_tags"],
            )
            for r in rows
        ]


def _columns(protectables: Sequence[Protectable]) -> list[list[str | None]]:
    return [
        [p.resource_id for p in protectables],
        [p.resource_type for p in protectables],
        [p.name for p in protectables],
        [p.vault_id for p in protectables],
        [p.vault_name for p in protectables],
        [None if p.vault_tags is None else json.dumps(p.vault_tags) for p in protectables],
    ]
