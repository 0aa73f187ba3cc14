"""The limiter of one (region, project) in one process, and the registry of them.

:class:`SharedLimiter` is a :class:`~orchestrator.cbr.transport.RequestObserver`: before each HTTP
attempt it hands out a permit, leasing a batch from the shared bucket when it has none left; after an
attempt answered 429 / ``APIG.0308`` it reports the throttling, which slows every process down. Two
processes together exceed the shared rate by at most their leased batches: unused permits expire after
``LEASE_TTL_SECONDS``.

When the database cannot be reached the limiter does not wait for it: it logs once, runs on a local
bucket at the conservative ``fallback_rate`` and tries the database again every ``db_retry_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from orchestrator.cbr.transport import RequestInfo, ResponseInfo
from orchestrator.config import RateLimitSettings
from orchestrator.observability import metrics
from orchestrator.ratelimit.bucket import clamp_rate, lease, lease_size, new_bucket, throttle
from orchestrator.store.rate_buckets import BucketKey, RateBuckets

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 1.0  # leased permits not used by then are dropped, not saved up for a burst
MAX_SLEEP_SECONDS = 1.0  # ask the shared bucket again at least this often while waiting
MIN_SLEEP_SECONDS = 0.001


class SharedLimiter:
    """Permits for the CBR calls of one (region, project), leased from the shared bucket."""

    def __init__(
        self,
        key: BucketKey,
        buckets: RateBuckets,
        policy: RateLimitSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self._buckets = buckets
        self._policy = policy
        self._fallback_policy = policy.model_copy(
            update={
                "rate": policy.fallback_rate,
                "max_rate": policy.fallback_rate,
                "min_rate": min(policy.min_rate, policy.fallback_rate),
                "burst": 1,
            }
        )
        self._clock = clock
        self._lock = asyncio.Lock()
        self._on_hand = 0
        self._leased_at = 0.0
        self._db_retry_at: float | None = None  # set while the shared bucket is unreachable
        self._local = new_bucket(self._fallback_policy, clock())
        self.rate = clamp_rate(policy.rate, policy)  # the shared rate, as last seen
        self.leases = 0
        self.throttles = 0
        self.fallback_permits = 0

    @property
    def shared(self) -> bool:
        """False while running on the local fallback bucket."""
        return self._db_retry_at is None

    # ------------------------------------------------------------ RequestObserver

    async def before_request(self, request: RequestInfo) -> None:
        started = time.monotonic()
        await self.acquire()
        metrics.RATE_LIMITER_WAIT.observe(time.monotonic() - started)

    async def after_response(self, request: RequestInfo, response: ResponseInfo) -> None:
        if response.error is not None and response.error.throttled:
            await self.throttled(response.error.retry_after)

    # ------------------------------------------------------------ permits

    async def acquire(self) -> None:
        """Wait for one permit (callers are served in arrival order)."""
        async with self._lock:
            while True:  # waits on time passing (the bucket refilling), not on an event
                if self._take():
                    return
                wait = await self._refill()
                if wait > 0:
                    await asyncio.sleep(min(MAX_SLEEP_SECONDS, max(MIN_SLEEP_SECONDS, wait)))

    async def try_acquire(self) -> float:
        """One permit now (0.0), or none and the seconds until one can be: for callers that answer
        "too many requests" rather than wait."""
        async with self._lock:
            if self._take():
                return 0.0
            wait = await self._refill()
            if self._take():
                return 0.0
            return max(MIN_SLEEP_SECONDS, wait)

    async def throttled(self, retry_after: float | None) -> None:
        """A 429 arrived: drop the permits on hand and slow everyone down."""
        self.throttles += 1
        self._on_hand = 0
        self._local = throttle(self._local, retry_after, self._clock(), self._fallback_policy)
        if not self._shared_reachable():
            return
        try:
            self.rate = await self._buckets.throttle(self.key, retry_after)
        except Exception as exc:  # any failure of the shared bucket means: go on alone
            self._fall_back(exc)
        else:
            log.info("CBR throttled %s/%s: shared rate now %.2f calls/s", *self._names(), self.rate)

    def _take(self) -> bool:
        if self._on_hand > 0 and self._clock() - self._leased_at <= LEASE_TTL_SECONDS:
            self._on_hand -= 1
            return True
        self._on_hand = 0
        return False

    async def _refill(self) -> float:
        """Lease permits; 0.0 when some arrived, else the seconds to wait before asking again."""
        if self._shared_reachable():
            try:
                granted = await self._buckets.lease(self.key, lease_size(self.rate, self._policy))
            except Exception as exc:  # any failure of the shared bucket means: go on alone
                self._fall_back(exc)
            else:
                self.leases += 1
                self.rate = granted.rate
                self._receive(granted.permits)
                return 0.0 if granted.permits else granted.wait_seconds
        return self._local_lease()

    def _local_lease(self) -> float:
        result = lease(self._local, 1, self._clock(), self._fallback_policy)
        self._local = result.state
        self._receive(result.granted)
        self.fallback_permits += result.granted
        return 0.0 if result.granted else result.wait_seconds

    def _receive(self, permits: int) -> None:
        if permits:
            self._on_hand += permits
            self._leased_at = self._clock()

    # ------------------------------------------------------------ database outages

    def _shared_reachable(self) -> bool:
        if self._db_retry_at is None:
            return True
        if self._clock() < self._db_retry_at:
            return False
        self._db_retry_at = None
        log.info("rate bucket %s/%s: trying the database again", *self._names())
        return True

    def _fall_back(self, exc: Exception) -> None:
        self._db_retry_at = self._clock() + self._policy.db_retry_seconds
        log.warning(
            "rate bucket %s/%s unreachable (%s); running alone at %.2f calls/s for %.0fs",
            *self._names(),
            type(exc).__name__,
            self._fallback_policy.rate,
            self._policy.db_retry_seconds,
        )

    def _names(self) -> tuple[str, str]:
        return (self.key.region, self.key.project_id)


class RateLimiters:
    """The limiters of one process, one per (region, project), over one :class:`RateBuckets`."""

    def __init__(self, buckets: RateBuckets, policy: RateLimitSettings) -> None:
        self._buckets = buckets
        self._policy = policy
        self._limiters: dict[BucketKey, SharedLimiter] = {}

    @classmethod
    async def open(cls, dsn: str, policy: RateLimitSettings) -> RateLimiters:
        return cls(await RateBuckets.open(dsn, policy), policy)

    def for_project(self, project_id: str, region: str) -> SharedLimiter:
        key = BucketKey(region, project_id)
        if key not in self._limiters:
            self._limiters[key] = SharedLimiter(key, self._buckets, self._policy)
        return self._limiters[key]

    async def close(self) -> None:
        await self._buckets.close()
