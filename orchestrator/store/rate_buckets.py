"""The shared token buckets of CBR calls, one row per (region, project) in ``rate_buckets``.

Each method is one atomic statement (the row is locked for its duration), so any number of processes
can lease permits and report throttling at the same time. ``now`` is for tests: by default every
statement reads the database's clock, the one every process shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from orchestrator.config import RateLimitSettings
from orchestrator.store.named_sql import q


@dataclass(frozen=True)
class BucketKey:
    region: str
    project_id: str


@dataclass(frozen=True)
class Granted:
    permits: int
    rate: float  # the shared rate after this lease
    wait_seconds: float  # when no permit was granted: how long until one can be


@dataclass(frozen=True)
class StoredBucket:
    rate: float
    tokens: float
    refilled_at: datetime
    blocked_until: datetime
    last_decrease_at: datetime
    calm_since: datetime
    throttled_count: int


class RateBuckets:
    """Leases and throttle reports against the shared buckets, on a small pool of its own."""

    def __init__(self, pool: asyncpg.Pool, policy: RateLimitSettings) -> None:
        self._pool = pool
        self._policy = policy
        self._timeout = policy.db_timeout_seconds

    @classmethod
    async def open(cls, dsn: str, policy: RateLimitSettings) -> RateBuckets:
        """A pool that connects on first use, so opening works while PostgreSQL is away."""
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=2,
            timeout=policy.db_timeout_seconds,  # to connect
            command_timeout=policy.db_timeout_seconds,
        )
        return cls(pool, policy)

    async def close(self) -> None:
        await self._pool.close()

    async def lease(self, key: BucketKey, want: int, now: datetime | None = None) -> Granted:
        """Up to ``want`` permits (creating the bucket on first use)."""
        row = await self._lease_row(key, want, now)
        if row is None:
            await self.ensure(key, now)
            row = await self._lease_row(key, want, now)
        if row is None:
            raise LookupError(f"rate bucket {key} vanished")
        return Granted(row["granted"], row["rate"], row["wait_seconds"])

    async def _lease_row(self, key: BucketKey, want: int, now: datetime | None) -> asyncpg.Record | None:
        p = self._policy
        row: asyncpg.Record | None = await self._pool.fetchrow(
            q("lease_rate_tokens"),
            key.region,
            key.project_id,
            want,
            float(p.burst),
            p.min_rate,
            p.max_rate,
            p.increase_step,
            p.quiet_seconds,
            now,
            timeout=self._timeout,
        )
        return row

    async def ensure(self, key: BucketKey, now: datetime | None = None) -> None:
        p = self._policy
        await self._pool.execute(
            q("ensure_rate_bucket"),
            key.region,
            key.project_id,
            min(p.max_rate, max(p.min_rate, p.rate)),
            float(p.burst),
            now,
            timeout=self._timeout,
        )

    async def throttle(
        self, key: BucketKey, block_seconds: float | None, now: datetime | None = None
    ) -> float:
        """Report a 429: cut the shared rate (once per cooldown), block everyone; the new rate."""
        rate = await self._throttle_row(key, block_seconds, now)
        if rate is None:
            await self.ensure(key, now)
            rate = await self._throttle_row(key, block_seconds, now)
        if rate is None:
            raise LookupError(f"rate bucket {key} vanished")
        return rate

    async def _throttle_row(
        self, key: BucketKey, block_seconds: float | None, now: datetime | None
    ) -> float | None:
        p = self._policy
        rate: float | None = await self._pool.fetchval(
            q("throttle_rate_bucket"),
            key.region,
            key.project_id,
            p.default_block_seconds if block_seconds is None else block_seconds,
            p.decrease_factor,
            p.min_rate,
            p.max_rate,
            p.decrease_cooldown_seconds,
            now,
            timeout=self._timeout,
        )
        return rate

    async def read(self, key: BucketKey) -> StoredBucket | None:
        query = q("read_rate_bucket")
        row = await self._pool.fetchrow(query, key.region, key.project_id, timeout=self._timeout)
        return None if row is None else StoredBucket(**dict(row))
