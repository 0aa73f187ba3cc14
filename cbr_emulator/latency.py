"""How long the emulator takes to answer CBR requests: a summary of every request since the last reset.

Durations go into logarithmic buckets (each 5 % wider than the one before, from 10 µs), so the memory
is a few hundred counters however many requests arrive, and a quantile is read to within 5 %.
The time counted is the handler's, from the request reaching the emulator's middleware to its answer
being ready: injected latency is in it, time spent waiting for the event loop before that is not.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

FIRST_BUCKET_SECONDS = 1e-5
GROWTH = 1.05
QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}


def _bucket(seconds: float) -> int:
    if seconds <= FIRST_BUCKET_SECONDS:
        return 0
    return 1 + int(math.log(seconds / FIRST_BUCKET_SECONDS, GROWTH))


def _upper_bound_ms(bucket: int) -> float:
    return FIRST_BUCKET_SECONDS * GROWTH**bucket * 1000


class LatencySummary:
    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self._count = 0
        self._total = 0.0
        self._max = 0.0

    def record(self, seconds: float) -> None:
        self._buckets[_bucket(seconds)] += 1
        self._count += 1
        self._total += seconds
        self._max = max(self._max, seconds)

    def quantile_ms(self, share: float) -> float | None:
        """The upper bound of the bucket holding the ``share`` quantile (None: no request yet)."""
        if not self._count:
            return None
        rank = math.ceil(share * self._count)
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return round(min(_upper_bound_ms(bucket), self._max * 1000), 3)
        return round(self._max * 1000, 3)

    def snapshot(self) -> dict[str, Any]:
        mean = self._total / self._count * 1000 if self._count else None
        return {
            "count": self._count,
            "mean_ms": None if mean is None else round(mean, 3),
            **{name: self.quantile_ms(share) for name, share in QUANTILES.items()},
            "max_ms": round(self._max * 1000, 3) if self._count else None,
        }
