"""Scenario (b): one ``fleet_backup`` of many servers through the orchestrator, under the emulator's limits.

The emulator runs in its own process with a per-project backup capacity, a request-rate limit and a
fixed task duration; the figures are compared with the theoretical minimum those limits allow
(:mod:`orchestrator.bench.theory`).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from cbr_emulator.config import DEFAULT_TENANT
from orchestrator.bench.emulator_process import EmulatorLimits, EmulatorProcess, server_ids
from orchestrator.bench.event_lag import event_lag, last_task_end
from orchestrator.bench.queue_run import QueuePlan, run_through_queue
from orchestrator.bench.theory import Floor
from orchestrator.config import RateLimitSettings, WorkerSettings
from orchestrator.messages import MAX_PROJECT_TASKS, FleetBackupCommand

FLEET_TUNING = WorkerSettings()
VAULT_SIZE_GB = 1_000_000


@dataclass
class FleetFigures:
    servers: int
    workers: int
    floor: Floor
    outcome: str | None = None
    protected: int = 0
    failed: int = 0
    skipped: int = 0
    wall_seconds: float = 0.0
    api_calls: int = 0
    calls_by_operation: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    peak_rss_mib: list[float | None] = field(default_factory=list)
    worker_exit_codes: list[int | None] = field(default_factory=list)
    timed_out: bool = False
    event_lag_seconds: float | None = None  # from the emulator's last task end to the final event

    @property
    def lost(self) -> int:
        return self.servers - self.protected - self.failed - self.skipped

    @property
    def calls_per_resource(self) -> float | None:
        return self.api_calls / self.protected if self.protected else None

    @property
    def wall_over_floor(self) -> float | None:
        floor = self.floor.seconds
        return self.wall_seconds / floor if floor else None

    @property
    def peak_rss_max_mib(self) -> float | None:
        known = [m for m in self.peak_rss_mib if m is not None]
        return max(known) if known else None

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "floor": self.floor.to_json(),
            "lost": self.lost,
            "calls_per_resource": _round(self.calls_per_resource, 4),
            "wall_over_floor": _round(self.wall_over_floor, 3),
            "peak_rss_max_mib": self.peak_rss_max_mib,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def fleet_command(ids: list[str], capacity: int | None = None) -> FleetBackupCommand:
    """The fleet's own cap (``project_tasks``) stays out of the emulator's way: ten times its ``capacity``
    (the C of the floor), so the emulator's queue never runs dry and the floor stays the bound. A cap at C
    itself would add the orchestrator's reaction time (a poll, then a new checkpoint) to every wave."""
    t = DEFAULT_TENANT
    cap = {"project_tasks": min(MAX_PROJECT_TASKS, 10 * (capacity or MAX_PROJECT_TASKS))}
    return FleetBackupCommand.model_validate(
        {
            "command_id": f"bench-fleet-{uuid.uuid4().hex[:12]}",
            "project_id": t.project_id,
            "region": t.region,
            "select": {"resources": [{"id": s} for s in ids]},
            "auto_vaults": {"name_prefix": "bench", "size_gb": VAULT_SIZE_GB},
            **cap,
        }
    )


def is_fleet_final(event: dict[str, Any]) -> bool:
    data = event["data"]
    return str(data["kind"]) == "fleet_backup" and str(data["outcome"]) != "progress"


async def measure_fleet(
    servers: int, limits: EmulatorLimits, workers: int, wait_seconds: float
) -> FleetFigures:
    """Back up ``servers`` servers with one fleet command; ``workers`` worker processes."""
    figures = FleetFigures(servers=servers, workers=workers, floor=Floor.of(servers, limits))
    async with EmulatorProcess(servers, limits) as emulator:
        plan = QueuePlan(
            [fleet_command(server_ids(servers), limits.backup_capacity)],
            workers,
            emulator.base_url,
            expected=1,
            counted=is_fleet_final,
            tuning=FLEET_TUNING,
            rate_limit=RateLimitSettings(),  # the product's default: it must find the emulator's limit itself
            workers_first=True,
            wait_seconds=wait_seconds,
            label="bench",
        )
        run = await run_through_queue(plan)
        counters = await emulator.counters()
        last_end = await last_task_end(emulator.base_url, DEFAULT_TENANT)  # after the counters: not counted
    figures.wall_seconds = round(run.counted_after, 2)
    figures.timed_out = run.timed_out
    figures.worker_exit_codes = run.worker_exit_codes
    figures.peak_rss_mib = [None if k is None else round(k / 1024, 1) for k in run.worker_peak_rss_kib]
    figures.api_calls = int(counters["requests"]["total"])
    figures.calls_by_operation = dict(counters["requests"]["by_operation"])
    figures.throttled = int(counters["throttled"]["total"])
    for event in run.tally.kept.values():
        _read_final_event(figures, event["data"])
        figures.event_lag_seconds = event_lag(event, last_end)
    return figures


def _read_final_event(figures: FleetFigures, data: dict[str, Any]) -> None:
    figures.outcome = str(data["outcome"])
    counts = (data.get("fleet") or {}).get("counts") or {}
    figures.protected = int(counts.get("succeeded", 0))
    figures.failed = int(counts.get("failed", 0))
    figures.skipped = int(counts.get("skipped", 0))
