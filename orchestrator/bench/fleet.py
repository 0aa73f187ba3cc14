"""Scenarios (b) and (e): fleet backups of many servers through the orchestrator, under the emulator's limits.

The emulator runs in its own process with a per-project backup capacity, a request-rate limit and a
fixed task duration; the figures are compared with the minimum those limits allow
(:mod:`orchestrator.bench.theory`). As users do, the fleet is selected by protectables (every server of
each project); ``select="list"`` names the servers instead, one fleet per project. What was backed up is
counted by the emulator (:mod:`orchestrator.bench.backup_audit`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cbr_emulator.config import DEFAULT_TENANT, Tenant
from orchestrator.bench.backup_audit import BackupAudit
from orchestrator.bench.emulator_process import EmulatorLimits, EmulatorProcess, server_ids
from orchestrator.bench.event_lag import event_lag_seconds, parse_utc
from orchestrator.bench.project_spans import ProjectSpan, project_spans
from orchestrator.bench.queue_run import QueuePlan, QueueRun, run_through_queue
from orchestrator.bench.status_cost import StatusCost
from orchestrator.bench.theory import Floor
from orchestrator.config import RateLimitSettings, WorkerSettings
from orchestrator.messages import MAX_PROJECT_TASKS, FleetBackupCommand

FLEET_TUNING = WorkerSettings()
VAULT_SIZE_GB = 1_000_000
Selection = Literal["protectables", "list"]


TASK_LISTING = "list_op_logs"


@dataclass
class FleetFigures:
    servers: int
    workers: int
    floor: Floor
    select: Selection = "protectables"
    projects: int = 1
    regions: int = 1
    fleets: int = 1
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
    audit: BackupAudit | None = None
    event_lag_seconds: float | None = None
    emulator_latency: dict[str, Any] = field(default_factory=dict)
    peak_running: dict[str, int] = field(default_factory=dict)  # backup tasks at once, per project
    project_spans: list[ProjectSpan] = field(default_factory=list)
    status_costs: list[StatusCost] = field(default_factory=list)  # ``status <fleet>``: text, then --json

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
    def task_listing_calls(self) -> int:
        """Listings of the projects' unfinished tasks (how the end of a task is seen): the floor leaves
        them out, they are counted against the time instead."""
        return self.calls_by_operation.get(TASK_LISTING, 0)

    @property
    def calls_over_floor(self) -> float | None:
        """The calls besides task listings, against the floor."""
        floor = self.floor.calls_total
        return (self.api_calls - self.task_listing_calls) / floor if floor else None

    @property
    def task_listings_per_project_second(self) -> float | None:
        seconds = self.wall_seconds * self.projects
        return self.task_listing_calls / seconds if seconds else None

    @property
    def peak_rss_max_mib(self) -> float | None:
        known = [m for m in self.peak_rss_mib if m is not None]
        return max(known) if known else None

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "floor": self.floor.to_json(),
            "audit": self.audit.to_json() if self.audit else None,
            "lost": self.lost,
            "calls_per_resource": _round(self.calls_per_resource, 4),
            "wall_over_floor": _round(self.wall_over_floor, 3),
            "calls_over_floor": _round(self.calls_over_floor, 3),
            "task_listing_calls": self.task_listing_calls,
            "task_listings_per_project_second": _round(self.task_listings_per_project_second, 3),
            "peak_rss_max_mib": self.peak_rss_max_mib,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _command(owner: Tenant, select: dict[str, Any], capacity: int | None) -> FleetBackupCommand:
    """The fleet's own cap (``project_tasks``) stays out of the emulator's way: ten times its ``capacity``
    (the C of the floor), so the emulator's queue never runs dry and the floor stays the bound. A cap at C
    itself would add the orchestrator's reaction time (a poll, then a new checkpoint) to every wave."""
    cap = {"project_tasks": min(MAX_PROJECT_TASKS, 10 * (capacity or MAX_PROJECT_TASKS))}
    return FleetBackupCommand.model_validate(
        {
            "command_id": f"bench-fleet-{uuid.uuid4().hex[:12]}",
            "project_id": owner.project_id,
            "region": owner.region,
            "select": select,
            "auto_vaults": {"name_prefix": "bench", "size_gb": VAULT_SIZE_GB},
            **cap,
        }
    )


def fleet_commands(
    servers: int, tenants: Sequence[Tenant], capacity: int | None, select: Selection
) -> list[FleetBackupCommand]:
    """By protectables: one fleet over every project. By list: one fleet per project (a list names
    resources of the command's own project)."""
    if select == "list":
        return [
            _command(t, {"resources": [{"id": s} for s in server_ids(servers, t)]}, capacity) for t in tenants
        ]
    places = [{"project_id": t.project_id, "region": t.region} for t in tenants]
    return [_command(tenants[0], {"protectables": {"types": ["server"], "projects": places}}, capacity)]


def is_fleet_final(event: dict[str, Any]) -> bool:
    data = event["data"]
    return str(data["kind"]) == "fleet_backup" and str(data["outcome"]) != "progress"


@dataclass(frozen=True)
class FleetPlan:
    """``servers`` per project in each of ``tenants``; ``workers`` worker processes."""

    servers: int
    limits: EmulatorLimits
    workers: int
    wait_seconds: float
    tenants: Sequence[Tenant] = (DEFAULT_TENANT,)
    select: Selection = "protectables"

    @property
    def floor(self) -> Floor:
        return Floor.of(self.servers, self.limits, len(self.tenants), self.select == "protectables")


async def measure_fleet(plan: FleetPlan) -> FleetFigures:
    commands = fleet_commands(plan.servers, plan.tenants, plan.limits.backup_capacity, plan.select)
    figures = FleetFigures(
        servers=plan.servers * len(plan.tenants),
        workers=plan.workers,
        floor=plan.floor,
        select=plan.select,
        projects=len(plan.tenants),
        regions=len({t.region for t in plan.tenants}),
        fleets=len(commands),
    )
    async with EmulatorProcess(plan.servers, plan.limits, _listed_tenants(plan.tenants)) as emulator:
        queue_plan = QueuePlan(
            commands,
            plan.workers,
            emulator.base_url,
            expected=len(commands),
            counted=is_fleet_final,
            tuning=FLEET_TUNING,
            rate_limit=RateLimitSettings(),  # the product's default: it must find the emulator's limit itself
            workers_first=True,
            wait_seconds=plan.wait_seconds,
            label="bench",
            tenants=plan.tenants,
            status_of_counted=len(commands) == 1,
        )
        run = await run_through_queue(queue_plan)
        counters = await emulator.counters()
        ledger = await emulator.ledger()
        figures.peak_running = await emulator.peak_running()
    _read_run(figures, run, counters)
    ids = [s for t in plan.tenants for s in server_ids(plan.servers, t)]
    figures.audit = BackupAudit.of(ledger, ids)
    figures.event_lag_seconds = event_lag_seconds(figures.audit.last_task_end, _last_final(run))
    figures.project_spans = project_spans(ledger)
    return figures


def _listed_tenants(tenants: Sequence[Tenant]) -> Sequence[Tenant]:
    """The emulator's own default tenant needs no tenants file."""
    return () if list(tenants) == [DEFAULT_TENANT] else tenants


def _read_run(figures: FleetFigures, run: QueueRun, counters: dict[str, Any]) -> None:
    figures.wall_seconds = round(run.counted_after, 2)
    figures.timed_out = run.timed_out
    figures.worker_exit_codes = run.worker_exit_codes
    figures.status_costs = run.status_costs
    figures.peak_rss_mib = [None if k is None else round(k / 1024, 1) for k in run.worker_peak_rss_kib]
    figures.api_calls = int(counters["requests"]["total"])
    figures.calls_by_operation = dict(counters["requests"]["by_operation"])
    figures.throttled = int(counters["throttled"]["total"])
    figures.emulator_latency = dict(counters.get("latency") or {})
    outcomes = [str(e["data"]["outcome"]) for e in run.tally.kept.values()]
    figures.outcome = outcomes[0] if len(set(outcomes)) == 1 else ", ".join(sorted(outcomes)) or None
    for event in run.tally.kept.values():
        counts = (event["data"].get("fleet") or {}).get("counts") or {}
        figures.protected += int(counts.get("succeeded", 0))
        figures.failed += int(counts.get("failed", 0))
        figures.skipped += int(counts.get("skipped", 0))


def _last_final(run: QueueRun) -> dict[str, Any] | None:
    finals = list(run.tally.kept.values())
    return max(finals, key=lambda e: parse_utc(str(e["time"]))) if finals else None
