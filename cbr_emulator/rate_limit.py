"""A per-project request-rate limit: one token bucket per (region, project), on wall (monotonic) time.

``requests_per_second`` tokens are added each second up to ``burst``; a request takes one. When the
bucket is empty the gateway answers 429 ``APIG.0308`` with ``Retry-After`` (whole seconds, at least 1).
``requests_per_second = null`` switches the limit off (the default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_second: float | None = Field(default=None, gt=0)
    burst: int = Field(default=10, ge=1)


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; 0.0 when granted, otherwise the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(
        self, limit: RateLimit | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._monotonic = monotonic
        self.configure(limit or RateLimit())

    @property
    def limit(self) -> RateLimit:
        return self._limit

    def configure(self, limit: RateLimit) -> None:
        """Replace the limit; every bucket starts full again."""
        self._limit = limit
        self._buckets: dict[Hashable, TokenBucket] = {}

    def check(self, key: Hashable) -> float | None:
        """None when a request of ``key`` (the gateway uses (region, project id)) may pass, else the
        seconds to wait before retrying."""
        rate = self._limit.requests_per_second
        if rate is None:
            return None
        now = self._monotonic()
        burst = float(self._limit.burst)
        bucket = self._buckets.setdefault(key, TokenBucket(rate, burst, burst, now))
        wait = bucket.take(now)
        return wait if wait > 0 else None
