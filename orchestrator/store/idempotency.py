"""The API's Idempotency-Key records (``idempotency_keys``, sql/008_api.sql): per API key, the first
request's body hash and, once it was answered, its answer.

:meth:`Idempotency.begin` tells a request presenting a key what to do: go on (it holds the key now), give
the stored answer again, refuse another body under the key, or refuse while the first is being accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from orchestrator.store.models import JsonDict
from orchestrator.store.named_sql import q

STALE_PENDING_SECONDS = 60.0  # a pending record this old was left by a request that died


class Begun(StrEnum):
    PROCEED = "proceed"  # this request holds the key: answer it, then complete or abandon the record
    REPLAY = "replay"  # answered before with the same body: give that answer again
    OTHER_BODY = "other_body"  # the key was used with another body
    IN_PROGRESS = "in_progress"  # the first request under the key is still being accepted


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: JsonDict
    location: str | None


@dataclass(frozen=True)
class Beginning:
    verdict: Begun
    answer: StoredAnswer | None = None  # for REPLAY


class Idempotency:
    """The Idempotency-Key records, as the store hands them out (``store.idempotency``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def begin(
        self,
        key_id: str,
        idempotency_key: str,
        request_hash: bytes,
        stale_seconds: float = STALE_PENDING_SECONDS,
    ) -> Beginning:
        args = (key_id, idempotency_key, request_hash)
        if await self._pool.fetchval(q("begin_idempotent"), *args) is not None:
            return Beginning(Begun.PROCEED)
        if await self._pool.fetchval(q("take_over_idempotent"), *args, stale_seconds) is not None:
            return Beginning(Begun.PROCEED)
        row = await self._pool.fetchrow(q("idempotent_record"), key_id, idempotency_key)
        if row is None:  # abandoned between our statements: try once more from the start
            return await self.begin(key_id, idempotency_key, request_hash, stale_seconds)
        return _beginning(row, request_hash)

    async def complete(
        self, key_id: str, idempotency_key: str, status: int, body: JsonDict, location: str | None
    ) -> None:
        await self._pool.execute(q("complete_idempotent"), key_id, idempotency_key, status, body, location)

    async def abandon(self, key_id: str, idempotency_key: str) -> None:
        """Forget a pending record: the request was refused, and the key may be used again."""
        await self._pool.execute(q("abandon_idempotent"), key_id, idempotency_key)


def _beginning(row: Any, request_hash: bytes) -> Beginning:
    if bytes(row["request_hash"]) != request_hash:
        return Beginning(Begun.OTHER_BODY)
    if row["status"] is None:
        return Beginning(Begun.IN_PROGRESS)
    return Beginning(Begun.REPLAY, StoredAnswer(row["status"], row["response"], row["location"]))
