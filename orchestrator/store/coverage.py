"""The coverage ledger's rows: each project's protectables, the last good backup of each resource that
CBR lists, and where the last refresh got to (``store.coverage``)."""

from __future__ import annotations

from collections.abc import Sequence
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
                r["project_id"], r["resource_id"], r["resource_type"], r["name"], r["vault_id"],
                r["vault_name"], r["backup_id"], r["last_backup_at"],
                None if r["age"] is None else max(r["age"], 0.0),
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
    ]
