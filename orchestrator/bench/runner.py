"""What ``cbr-orchestrator bench`` runs: the chosen scenarios with their sizes and limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from orchestrator.bench.api_throughput import run_api_throughput
from orchestrator.bench.baseline import measure_baseline
from orchestrator.bench.emulator_process import EmulatorLimits
from orchestrator.bench.fleet import FleetPlan, Selection, measure_fleet
from orchestrator.bench.projects import bench_tenants
from orchestrator.bench.report import BenchResults
from orchestrator.bench.theory import Floor
from orchestrator.bench.throughput import measure_throughput

SCENARIOS = ("a", "b", "c", "d", "e")


@dataclass(frozen=True)
class BenchOptions:
    """Sizes and limits. The defaults are the full bench; :meth:`quick` is the small one CI runs.

    ``servers`` is the fleet of (b) and (c); (e) backs up ``project_servers`` in each of ``projects``
    projects spread over ``regions`` regions, each project with the same limits as (b)."""

    scenarios: tuple[str, ...] = SCENARIOS
    servers: int = 10_000
    select: Selection = "protectables"
    concurrency: int = 200
    rps: float = 20.0
    task_seconds: float = 3.0
    throughput_commands: int = 3000
    fleet_workers: int = 1
    baseline_threads: int = 16
    poll_seconds: float = 5.0
    api_seconds: float = 10.0
    api_callers: int = 32
    projects: int = 10
    regions: int = 2
    project_servers: int = 10_000

    def quick(self) -> BenchOptions:
        """300 servers, 30 at once, 100 requests/s, 1 s tasks (10 waves); 500 commands for (a); 2 s of
        (d); (e) 3 projects of 90 servers in 2 regions."""
        return replace(
            self, servers=300, concurrency=30, rps=100.0, task_seconds=1.0, throughput_commands=500,
            poll_seconds=2.0, api_seconds=2.0, projects=3, project_servers=90,
        )  # fmt: skip

    @property
    def limits(self) -> EmulatorLimits:
        return EmulatorLimits(
            backup_capacity=self.concurrency,
            requests_per_second=self.rps,
            burst=max(1, round(self.rps)),
            task_seconds=self.task_seconds,
        )

    def patience_seconds(self, servers: int, calls_per_resource: float = 0.0) -> float:
        """How long a scenario may take before it is cut short: generous against the minimum, and against
        the rate limit for a script making ``calls_per_resource`` calls per server."""
        floor = Floor.of(servers, self.limits)
        calls = floor.calls_seconds(calls_per_resource) or 0.0
        return 120.0 + 6 * max(floor.seconds, calls)

    def fleet_plan(self) -> FleetPlan:
        wait = self.patience_seconds(self.servers)
        return FleetPlan(self.servers, self.limits, self.fleet_workers, wait, select=self.select)

    def projects_plan(self) -> FleetPlan:
        servers = self.project_servers
        tenants = bench_tenants(self.projects, self.regions)
        wait = self.patience_seconds(servers)
        return FleetPlan(servers, self.limits, self.fleet_workers, wait, tenants, self.select)


async def run_bench(options: BenchOptions) -> BenchResults:
    results = BenchResults(options=asdict(options))
    chosen = options.scenarios
    if "a" in chosen:
        async with results.timed("a"):
            commands = options.throughput_commands
            for workers in (1, 2):
                results.throughput.append(await measure_throughput(commands, workers, 60.0 + commands / 10))
    if "b" in chosen or "c" in chosen:
        async with results.timed("b"):
            results.fleet = await measure_fleet(options.fleet_plan())
    if "c" in chosen:
        async with results.timed("c"):
            results.baseline = await measure_baseline(
                options.servers,
                options.limits,
                options.baseline_threads,
                options.poll_seconds,
                options.patience_seconds(options.servers, 3.0),  # about 2–3 calls per server
            )
    if "d" in chosen:
        async with results.timed("d"):
            results.api = await run_api_throughput(options.api_seconds, options.api_callers)
    if "e" in chosen:
        async with results.timed("e"):
            results.projects_fleet = await measure_fleet(options.projects_plan())
        if results.projects_fleet.fleets > 1:
            results.notes.append(f"(e) ran {results.projects_fleet.fleets} fleets, one per project, at once")
    return results
