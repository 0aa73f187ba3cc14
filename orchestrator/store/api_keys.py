"""The HTTP API's keys as PostgreSQL keeps them: an id, a name, a SHA-256 of the secret, the projects
and scopes it grants, and when it was revoked. The secret itself is never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    name: str
    secret_hash: bytes
    projects: tuple[str, ...]  # empty: every project
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class StoredApiKey(NewApiKey):
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_record(cls, r: Any) -> StoredApiKey:
        return cls(
            r["key_id"],
            r["name"],
            bytes(r["secret_hash"]),
            tuple(r["projects"]),
            tuple(r["scopes"]),
            r["created_at"],
            r["revoked_at"],
        )


class ApiKeys:
    """The API's keys, as the store hands them out (``store.api_keys``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, key: NewApiKey) -> None:
        await self._pool.execute(
            q("insert_api_key"), key.key_id, key.name, key.secret_hash, list(key.projects), list(key.scopes)
        )

    async def get(self, key_id: str) -> StoredApiKey | None:
        row = await self._pool.fetchrow(q("api_key"), key_id)
        return StoredApiKey.from_record(row) if row else None

    async def all(self) -> list[StoredApiKey]:
        return [StoredApiKey.from_record(r) for r in await self._pool.fetch(q("api_keys"))]

    async def revoke(self, key_id: str) -> bool:
        """True when this call revoked it; False when it is unknown or was revoked before."""
        return await self._pool.fetchval(q("revoke_api_key"), key_id) is not None
