"""The least wall time the emulator's limits allow for backing up T resources in each of P projects.

Two bounds, each project on its own (its own capacity and rate limit), the larger one wins:

- **waves of tasks**: a backup waits ``w`` (``waiting_seconds``) after submission, then for one of the
  project's ``C`` slots (FIFO), then runs ``d`` seconds; even if all T were submitted at the same instant
  they run in ``ceil(T / C)`` waves: ``w + ceil(T/C)·d``;
- **the request rate**: the calls any tool must make (:mod:`orchestrator.bench.call_floor`), beyond the
  bucket's ``burst``, at ``R`` requests per second: ``(calls − burst) / R``.

For 10,000 servers, C = 200, d = 3 s, R = 20/s, burst 20: max(150 s, (290 − 20)/20 = 13.5 s) = 150 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from orchestrator.bench.call_floor import CallFloor
from orchestrator.bench.emulator_process import EmulatorLimits

FORMULA = "max(w + ceil(T/C)·d, max(0, calls − burst)/R)"


@dataclass(frozen=True)
class Floor:
    resources: int  # per project
    capacity: int | None
    task_seconds: float
    waiting_seconds: float
    requests_per_second: float | None
    burst: int = 0
    projects: int = 1
    listed: bool = True

    @classmethod
    def of(cls, resources: int, limits: EmulatorLimits, projects: int = 1, listed: bool = True) -> Floor:
        return cls(
            resources,
            limits.backup_capacity,
            limits.task_seconds or 0.0,
            limits.waiting_seconds,
            limits.requests_per_second,
            limits.burst,
            projects,
            listed,
        )

    @property
    def waves(self) -> int:
        return math.ceil(self.resources / self.capacity) if self.capacity else 1

    @property
    def waves_seconds(self) -> float:
        return self.waiting_seconds + self.waves * self.task_seconds

    @property
    def calls(self) -> CallFloor:
        """The floor of calls of one project."""
        return CallFloor(self.resources, self.listed)

    @property
    def calls_total(self) -> int:
        return self.calls.total * self.projects

    @property
    def rate_seconds(self) -> float:
        rate = self.requests_per_second
        return max(0, self.calls.total - self.burst) / rate if rate else 0.0

    @property
    def seconds(self) -> float:
        """The minimum: the larger bound."""
        return max(self.waves_seconds, self.rate_seconds)

    def calls_seconds(self, calls_per_resource: float) -> float | None:
        """Seconds the rate limit needs for ``calls_per_resource`` calls per resource (None: no limit)."""
        rate = self.requests_per_second
        return calls_per_resource * self.resources / rate if rate else None

    def describe(self) -> str:
        w, t, c, d = self.waiting_seconds, self.resources, self.capacity, self.task_seconds
        waves = f"{w:g} + ceil({t}/{c})·{d:g} = {self.waves_seconds:g} s"
        r = self.requests_per_second
        rate = f"max(0, {self.calls.total} − {self.burst})/{r:g}" if r else "no rate limit"
        return f"max({waves}, {rate} = {self.rate_seconds:.1f} s) = {self.seconds:g} s"

    def to_json(self) -> dict[str, Any]:
        return {
            "formula": FORMULA,
            "resources_per_project": self.resources,
            "projects": self.projects,
            "capacity": self.capacity,
            "task_seconds": self.task_seconds,
            "waiting_seconds": self.waiting_seconds,
            "requests_per_second": self.requests_per_second,
            "burst": self.burst,
            "waves": self.waves,
            "waves_seconds": self.waves_seconds,
            "rate_seconds": round(self.rate_seconds, 3),
            "seconds": self.seconds,
            "calls_per_project": self.calls.to_json(),
            "calls_total": self.calls_total,
        }
