"""How big and how rough a soak is: commands, workers, the chaos window and its rhythm, the worker tuning."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import RateLimitSettings, WorkerSettings

# Short leases and heartbeats, so that a killed worker's workflows are taken over within the run; the
# CBR call timeout stays below the lease (a call never outlives the lease it started under) and below the
# emulator's hang (an execute-then-timeout fault is a timeout for the client).
SOAK_WORKER = WorkerSettings(
    concurrency=64,
    prefetch=100,
    lease_seconds=5.0,
    lease_margin_seconds=1.0,
    heartbeat_seconds=1.0,
    settle_seconds=8.0,  # past the call timeout and the longest injected latency
    settle_base_seconds=0.5,
    drain_seconds=2.0,
    idle_poll_seconds=0.3,
    status_poll_seconds=0.5,
    poll_clock_slack_seconds=2.0,
    backoff_base_seconds=0.2,
    backoff_max_seconds=3.0,
    relay_poll_seconds=0.5,
)
CBR_TIMEOUT_SECONDS = 2.5
# Injected 429s must slow the workers down, not freeze them: the shared limiter falls no lower than
# min_rate and climbs back quickly once the throttling stops.
SOAK_RATE_LIMIT = RateLimitSettings(
    rate=200, burst=100, min_rate=20, max_rate=1000, increase_step=50, quiet_seconds=1.0
)


@dataclass(frozen=True)
class SoakOptions:
    """``commands`` distinct valid commands (plus duplicates and bad messages), ``workers`` processes.

    Commands are published evenly over the chaos window (``duration_seconds``, by default about one
    second per 8 commands); then chaos stops and the run waits up to ``settle_seconds`` for every
    workflow to end. ``chaos=False`` is the control run: no kills, no faults, no service restarts.
    """

    commands: int = 1000
    workers: int = 3
    duration_seconds: float | None = None
    settle_seconds: float = 300.0
    chaos_every_seconds: float = 5.0
    task_seconds: float = 2.0
    chaos: bool = True
    seed: int = 1
    logs_dir: Path | None = None
    worker: WorkerSettings = SOAK_WORKER
    rate_limit: RateLimitSettings = SOAK_RATE_LIMIT
    cbr_timeout_seconds: float = CBR_TIMEOUT_SECONDS

    @classmethod
    def quick(cls) -> SoakOptions:
        """The CI size: 120 commands, 3 workers, 40 s of chaos, at most 60 s to settle."""
        return cls(
            commands=120, workers=3, duration_seconds=40.0, settle_seconds=60.0, chaos_every_seconds=4.0
        )

    @property
    def window_seconds(self) -> float:
        if self.duration_seconds is not None:
            return self.duration_seconds
        return min(1800.0, max(30.0, self.commands / 8))

    @property
    def hang_seconds(self) -> float:
        """How long an execute-then-timeout fault holds the connection: past the client's timeout."""
        return self.cbr_timeout_seconds + 1.5
