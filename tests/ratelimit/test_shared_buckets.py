"""The shared bucket in PostgreSQL, and limiters on separate connections as separate processes have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from orchestrator.config import RateLimitSettings
from orchestrator.ratelimit import SharedLimiter
from orchestrator.ratelimit.bucket import BucketState, lease, new_bucket, throttle
from orchestrator.store.rate_buckets import BucketKey, RateBuckets, StoredBucket

if TYPE_CHECKING:
    from conftest import LateDatabase  # the fixture's type only

KEY = BucketKey("eu-west-101", "0a1b2c3d4e5f60718293a4b5c6d7e8f9")
T0 = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
POLICY = RateLimitSettings(
    rate=10.0,
    burst=5,
    min_rate=1.0,
    max_rate=20.0,
    increase_step=2.0,
    quiet_seconds=3.0,
    decrease_cooldown_seconds=1.0,
)


@pytest.fixture
async def buckets(dsn: str) -> AsyncIterator[RateBuckets]:
    opened = await RateBuckets.open(dsn, POLICY)
    yield opened
    await opened.close()


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_the_database_computes_what_the_python_arithmetic_computes(buckets: RateBuckets) -> None:
    """One script of leases and 429s, run through SQL and through bucket.py, step by step."""
    script: list[tuple[str, float, float | None]] = [
        ("lease", 0.0, 3),
        ("lease", 0.0, 5),
        ("lease", 0.05, 5),
        ("lease", 0.35, 5),
        ("throttle", 0.4, 2.0),
        ("throttle", 0.6, 1.0),
        ("lease", 1.5, 5),
        ("lease", 2.45, 5),
        ("lease", 2.9, 5),
        ("throttle", 3.0, None),
        ("lease", 9.0, 5),
        ("lease", 12.5, 5),
        ("lease", 16.0, 1),
    ]
    await buckets.ensure(KEY, _at(0))
    expected = new_bucket(POLICY, T0.timestamp())
    for op, offset, arg in script:
        now = T0.timestamp() + offset
        if op == "lease":
            want = int(arg or 0)
            granted = await buckets.lease(KEY, want, _at(offset))
            result = lease(expected, want, now, POLICY)
            expected = result.state
            assert granted.permits == result.granted, (op, offset)
            assert granted.wait_seconds == pytest.approx(result.wait_seconds, abs=1e-6), (op, offset)
        else:
            await buckets.throttle(KEY, arg, _at(offset))
            expected = throttle(expected, arg, now, POLICY)
        stored = await buckets.read(KEY)
        assert stored is not None
        assert _as_tuple(stored) == _approx(expected), (op, offset)
    assert expected.rate > POLICY.min_rate and expected.throttled_count == 3  # the script did adapt


def _as_tuple(stored: StoredBucket) -> tuple[float, ...]:
    return (
        stored.rate,
        stored.tokens,
        stored.refilled_at.timestamp(),
        stored.blocked_until.timestamp(),
        stored.last_decrease_at.timestamp(),
        stored.calm_since.timestamp(),
        stored.throttled_count,
    )


def _approx(state: BucketState) -> object:
    return pytest.approx(astuple(state), abs=1e-6)


async def test_a_missing_bucket_is_created_by_the_first_lease_or_throttle(buckets: RateBuckets) -> None:
    first = await buckets.lease(KEY, 3)
    assert (first.permits, first.rate) == (3, POLICY.rate)
    other = BucketKey("eu-west-0", KEY.project_id)
    assert await buckets.throttle(other, 1.0) == POLICY.rate * POLICY.decrease_factor


async def test_two_processes_together_stay_within_the_shared_rate(dsn: str) -> None:
    """Count permits against the time they took: never more than burst + rate × time + leased batches."""
    policy = POLICY.model_copy(
        update={"rate": 100.0, "max_rate": 100.0, "burst": 5, "lease_window_seconds": 0.05}
    )
    one, two = await RateBuckets.open(dsn, policy), await RateBuckets.open(dsn, policy)
    limiters = [SharedLimiter(KEY, one, policy), SharedLimiter(KEY, two, policy)]
    per_limiter, callers = 60, 4
    try:
        started = time.monotonic()
        await asyncio.gather(
            *(_acquire(limiter, per_limiter // callers) for limiter in limiters for _ in range(callers))
        )
        elapsed = time.monotonic() - started
    finally:
        await one.close()
        await two.close()
    total = per_limiter * len(limiters)
    batches = 2 * 5  # at most one lease of 5 on hand in each process
    assert total <= policy.burst + policy.rate * elapsed * 1.05 + batches
    assert all(limiter.shared and limiter.leases >= 1 for limiter in limiters)
    assert elapsed < 10  # generous: 120 permits at 100/s take about 1.2 s


async def _acquire(limiter: SharedLimiter, n: int) -> None:
    for _ in range(n):
        await limiter.acquire()


async def test_a_429_seen_by_one_process_blocks_and_slows_the_other(dsn: str) -> None:
    one, two = await RateBuckets.open(dsn, POLICY), await RateBuckets.open(dsn, POLICY)
    first, second = SharedLimiter(KEY, one, POLICY), SharedLimiter(KEY, two, POLICY)
    try:
        await first.acquire()
        await second.acquire()
        await first.throttled(retry_after=3.0)
        assert first.rate == POLICY.rate * POLICY.decrease_factor
        # the second still holds leased permits: at most that batch passes, then it must wait
        passed = await _acquired_within(second, seconds=1.0, most=POLICY.burst + 1)
        assert passed <= POLICY.burst
        assert second.rate == first.rate  # learnt from the shared row
    finally:
        await one.close()
        await two.close()


async def _acquired_within(limiter: SharedLimiter, seconds: float, most: int) -> int:
    """How many permits (up to ``most``) the limiter hands out, each within ``seconds``."""
    passed = 0
    while passed < most:
        try:
            await asyncio.wait_for(limiter.acquire(), timeout=seconds)
        except TimeoutError:
            break
        passed += 1
    return passed


async def test_without_the_database_calls_go_on_at_the_fallback_rate_then_share_again(
    late_database: LateDatabase,
) -> None:
    """The database named is missing at first (as if PostgreSQL were away), then appears."""
    policy = POLICY.model_copy(update={"fallback_rate": 20.0, "db_retry_seconds": 0.3})
    buckets = await RateBuckets.open(late_database.dsn, policy)
    limiter = SharedLimiter(KEY, buckets, policy)
    try:
        await asyncio.wait_for(_acquire(limiter, 3), timeout=5)  # no deadlock, no error
        assert not limiter.shared and limiter.fallback_permits == 3
        await limiter.throttled(retry_after=0.2)  # reported locally only, without raising
        await late_database.create()
        await asyncio.sleep(0.4)
        await asyncio.wait_for(_acquire(limiter, 3), timeout=5)
        assert limiter.shared and limiter.leases >= 1
        assert limiter.fallback_permits <= 4
    finally:
        await buckets.close()
