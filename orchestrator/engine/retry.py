"""How long a workflow sleeps: backoff with jitter for busy answers, lookups spread over the settle window,
the poll interval for status polls."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from orchestrator.config import WorkerSettings
from orchestrator.workflows.base import Sleep


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter in [delay/2, delay], never below the cloud's Retry-After.

    Lookups of a call whose outcome is unknown (``settle``) back off the same way from
    ``settle_base_seconds``, never longer than a quarter of the settle window, so that several lookups
    fall inside it.
    """

    base_seconds: float
    max_seconds: float
    poll_seconds: float
    settle_base_seconds: float = 1.0
    settle_seconds: float = 120.0

    def delay(self, sleep: Sleep, rand: Callable[[], float] = random.random) -> float:
        if sleep.reason == "poll":
            return self.poll_seconds
        if sleep.reason == "settle":
            ceiling = max(self.settle_base_seconds, self.settle_seconds / 4)
            return _jittered(self.settle_base_seconds, ceiling, sleep.attempt + 1, rand)
        raw = _jittered(self.base_seconds, self.max_seconds, sleep.attempt, rand)
        return max(raw, sleep.at_least or 0.0)

    @classmethod
    def of(cls, worker: WorkerSettings) -> RetryPolicy:
        return cls(
            worker.backoff_base_seconds,
            worker.backoff_max_seconds,
            worker.status_poll_seconds,
            worker.settle_base_seconds,
            worker.settle_seconds,
        )


def _jittered(base: float, ceiling: float, attempt: int, rand: Callable[[], float]) -> float:
    raw = min(ceiling, base * 2.0 ** max(attempt - 1, 0))
    return raw * (0.5 + rand() / 2)
