"""How fast a caller may call: a token bucket per API key and per named trigger, shared by every API
process through PostgreSQL (the ``rate_buckets`` rows the CBR limiter uses, under regions of their own).

Each process leases a few permits at a time from the shared bucket (see :mod:`orchestrator.ratelimit`),
so a request costs a database round trip only once per lease; several processes behind a load balancer
together stay within the rate. A caller over its budget gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import math

from orchestrator.api.problems import ProblemError
from orchestrator.config import RateLimitSettings
from orchestrator.ratelimit import SharedLimiter
from orchestrator.store import Store
from orchestrator.store.rate_buckets import BucketKey


class RequestBudgets:
    """The budgets of one kind of caller (``region`` names the kind: ``api-key``, ``api-hook``)."""

    def __init__(self, store: Store, region: str, rate: float, burst: int) -> None:
        self._region = region
        self._policy = fixed_rate(rate, burst)
        self._buckets = store.rate_buckets(self._policy)
        self._limiters: dict[str, SharedLimiter] = {}

    async def spend(self, caller: str, what: str) -> None:
        """One request of ``caller``, or 429 naming ``what`` is over its rate."""
        wait = await self._limiter(caller).try_acquire()
        if wait > 0:
            raise ProblemError(
                429,
                "Too Many Requests",
                f"{what}'s request rate is exceeded",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    def _limiter(self, caller: str) -> SharedLimiter:
        limiter = self._limiters.get(caller)
        if limiter is None:
            limiter = SharedLimiter(BucketKey(self._region, caller), self._buckets, self._policy)
            self._limiters[caller] = limiter
        return limiter


def fixed_rate(rate: float, burst: int) -> RateLimitSettings:
    """A bucket that never adapts: the rate a caller is granted is not raised or lowered by its use."""
    return RateLimitSettings(
        rate=rate,
        burst=burst,
        min_rate=rate,
        max_rate=rate,
        increase_step=0.0,
        fallback_rate=rate,
    )
