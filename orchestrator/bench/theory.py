"""The least wall time the emulator's limits allow for backing up T resources.

The emulator's duration model: a backup waits ``w`` (``waiting_seconds``) after submission, then waits
for one of the project's ``C`` slots (FIFO), then runs ``d`` seconds. Even if all T backups were
submitted at the same instant, they run in ``ceil(T / C)`` waves of ``d``:

    floor = w + ceil(T / C) · d

The request rate R adds nothing to it as long as a tool's calls fit in ``R · floor``: the orchestrator's
target of 0.25 calls per resource needs ``0.25 · T / R`` seconds, which the bench states next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from orchestrator.bench.emulator_process import EmulatorLimits

FORMULA = "w + ceil(T/C)·d"


@dataclass(frozen=True)
class Floor:
    resources: int
    capacity: int | None
    task_seconds: float
    waiting_seconds: float
    requests_per_second: float | None

    @classmethod
    def of(cls, resources: int, limits: EmulatorLimits) -> Floor:
        return cls(
            resources,
            limits.backup_capacity,
            limits.task_seconds or 0.0,
            limits.waiting_seconds,
            limits.requests_per_second,
        )

    @property
    def waves(self) -> int:
        return math.ceil(self.resources / self.capacity) if self.capacity else 1

    @property
    def seconds(self) -> float:
        return self.waiting_seconds + self.waves * self.task_seconds

    def calls_seconds(self, calls_per_resource: float) -> float | None:
        """Seconds the rate limit needs for ``calls_per_resource`` calls per resource (None: no limit)."""
        rate = self.requests_per_second
        return calls_per_resource * self.resources / rate if rate else None

    def describe(self) -> str:
        w, t, c, d = self.waiting_seconds, self.resources, self.capacity, self.task_seconds
        return f"{FORMULA} = {w:g} + ceil({t}/{c})·{d:g} = {self.seconds:g} s"

    def to_json(self) -> dict[str, Any]:
        return {
            "formula": FORMULA,
            "resources": self.resources,
            "capacity": self.capacity,
            "task_seconds": self.task_seconds,
            "waiting_seconds": self.waiting_seconds,
            "waves": self.waves,
            "seconds": self.seconds,
            "rate_limit_seconds_at_0_25_calls": self.calls_seconds(0.25),
        }
