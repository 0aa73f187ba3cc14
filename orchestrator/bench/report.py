"""The bench's results: the figures of each scenario, the targets, a table and a JSON file."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from orchestrator.bench.api_throughput import ApiThroughput
from orchestrator.bench.baseline import BaselineFigures
from orchestrator.bench.fleet import FleetFigures
from orchestrator.bench.project_spans import describe_spans
from orchestrator.bench.status_cost import StatusCost
from orchestrator.bench.status_cost import describe as describe_status
from orchestrator.bench.throughput import ThroughputFigures

WALL_OVER_FLOOR_MAX = 1.05
CALLS_OVER_FLOOR_MAX = 1.5
# one look per project per second (what a final event within 1 s needs), and a look lists both unfinished
# statuses (CBR filters on one status at a time): 2 calls
TASK_LISTINGS_PER_PROJECT_SECOND_MAX = 2.0
EVENT_LAG_MAX_SECONDS = 1.0
PEAK_RSS_MAX_MIB = 300.0
STATUS_SECONDS_MAX = 1.0  # ``status <fleet>``, the whole CLI process
STATUS_RSS_MAX_MIB = 100.0
CALLS_RATIO_MIN = 20.0
WORKFLOWS_PER_SECOND_MIN = 300.0


@dataclass(frozen=True)
class Target:
    scenario: str
    name: str
    wanted: str
    measured: str
    met: bool | None  # None: could not be measured

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "name": self.name, "wanted": self.wanted,
                "measured": self.measured, "met": self.met}  # fmt: skip


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class Comparison:
    """Baseline ÷ orchestrator (wall, calls), and what each side protected or could not explain."""

    wall_ratio: float | None
    calls_ratio: float | None
    protected_orchestrator: int
    protected_baseline: int
    unexplained_orchestrator: int
    unexplained_baseline: int

    @classmethod
    def of(cls, fleet: FleetFigures, baseline: BaselineFigures) -> Comparison:
        return cls(
            wall_ratio=_ratio(baseline.wall_seconds, fleet.wall_seconds),
            calls_ratio=_ratio(baseline.api_calls, fleet.api_calls),
            protected_orchestrator=fleet.protected,
            protected_baseline=baseline.protected,
            unexplained_orchestrator=fleet.lost,
            unexplained_baseline=baseline.unexplained,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline_wall_over_orchestrator_wall": _round(self.wall_ratio),
            "baseline_calls_over_orchestrator_calls": _round(self.calls_ratio),
            "protected": {"orchestrator": self.protected_orchestrator, "baseline": self.protected_baseline},
            "unexplained": {
                "orchestrator": self.unexplained_orchestrator,
                "baseline": self.unexplained_baseline,
            },
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _show(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


@dataclass
class BenchResults:
    options: dict[str, Any]
    throughput: list[ThroughputFigures] = field(default_factory=list)
    fleet: FleetFigures | None = None
    projects_fleet: FleetFigures | None = None  # scenario (e)
    baseline: BaselineFigures | None = None
    api: ApiThroughput | None = None
    notes: list[str] = field(default_factory=list)
    scenario_seconds: dict[str, float] = field(default_factory=dict)  # each scenario's own run, start to end

    @contextlib.asynccontextmanager
    async def timed(self, scenario: str) -> AsyncIterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.scenario_seconds[scenario] = round(time.monotonic() - started, 1)

    @property
    def comparison(self) -> Comparison | None:
        if self.fleet is None or self.baseline is None or not self.baseline.available:
            return None
        return Comparison.of(self.fleet, self.baseline)

    def targets(self) -> list[Target]:
        fleets = [("b", self.fleet), ("e", self.projects_fleet)]
        return [
            *self._throughput_targets(),
            *(t for label, f in fleets if f is not None for t in _fleet_targets(label, f)),
            *self._comparison_targets(),
        ]

    def _throughput_targets(self) -> list[Target]:
        one = [f for f in self.throughput if f.workers == 1]
        if not one:
            return []
        rate = one[0].events_per_second_out
        wanted = f"≥ {WORKFLOWS_PER_SECOND_MIN:.0f} workflows/s, one worker"
        return [Target("a", "throughput", wanted, f"{rate:.0f}/s", rate >= WORKFLOWS_PER_SECOND_MIN)]

    def _comparison_targets(self) -> list[Target]:
        c = self.comparison
        if c is None:
            return []
        calls, wall = c.calls_ratio, c.wall_ratio
        return [
            Target("c", "baseline calls / orchestrator calls", f"≥ {CALLS_RATIO_MIN:.0f}", _show(calls, 1),
                   None if calls is None else calls >= CALLS_RATIO_MIN),
            Target("c", "baseline wall / orchestrator wall", "≥ 1 (no slower)", _show(wall),
                   None if wall is None else wall >= 1.0),
        ]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        comparison = self.comparison
        return {
            "options": self.options,
            "throughput": [f.to_json() for f in self.throughput],
            "fleet": self.fleet.to_json() if self.fleet else None,
            "projects_fleet": self.projects_fleet.to_json() if self.projects_fleet else None,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "comparison": comparison.to_json() if comparison else None,
            "api": asdict(self.api) | {"per_second": round(self.api.per_second, 1)} if self.api else None,
            "targets": [t.to_json() for t in self.targets()],
            "notes": self.notes,
            "scenario_seconds": self.scenario_seconds,
        }


def _fleet_targets(label: str, f: FleetFigures) -> list[Target]:
    over, calls, lag, rss = f.wall_over_floor, f.calls_over_floor, f.event_lag_seconds, f.peak_rss_max_mib
    listings = f.task_listings_per_project_second
    audit = f.audit
    return [
        Target(label, "wall / minimum", f"≤ {WALL_OVER_FLOOR_MAX}", _show(over),
               None if over is None else over <= WALL_OVER_FLOOR_MAX),
        Target(label, "CBR calls besides task listings / floor", f"≤ {CALLS_OVER_FLOOR_MAX}", _show(calls),
               None if calls is None else calls <= CALLS_OVER_FLOOR_MAX),
        Target(label, "task listing calls per project per second",
               f"≤ {TASK_LISTINGS_PER_PROJECT_SECOND_MAX:g}", _show(listings),
               None if listings is None else listings <= TASK_LISTINGS_PER_PROJECT_SECOND_MAX),
        Target(label, "final event after the last task", f"≤ {EVENT_LAG_MAX_SECONDS:g} s",
               _show(lag, 2, " s"),
               None if lag is None else lag <= EVENT_LAG_MAX_SECONDS),
        Target(label, "lost / duplicated (emulator's count)", "0 / 0",
               "n/a" if audit is None else f"{audit.lost} / {audit.duplicated}",
               None if audit is None else audit.lost == audit.duplicated == 0 and not f.timed_out),
        Target(label, "peak RSS of a worker", f"< {PEAK_RSS_MAX_MIB:.0f} MiB", _show(rss, 1, " MiB"),
               None if rss is None else rss < PEAK_RSS_MAX_MIB),
        *(_status_target(label, cost) for cost in f.status_costs),
    ]  # fmt: skip


def _status_target(label: str, cost: StatusCost) -> Target:
    name = "status <fleet>" + (" --json" if cost.as_json else "")
    wanted = f"< {STATUS_SECONDS_MAX:g} s, < {STATUS_RSS_MAX_MIB:.0f} MiB"
    met = cost.exit_code == 0 and cost.seconds < STATUS_SECONDS_MAX and cost.peak_rss_mib < STATUS_RSS_MAX_MIB
    return Target(label, name, wanted, f"{cost.seconds:.2f} s, {cost.peak_rss_mib:.0f} MiB", met)


def default_json_path(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("bench-results") / f"bench-{stamp}.json"


def write_json(results: BenchResults, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_json(), indent=1) + "\n", "utf-8")
    return path


def figures_table(results: BenchResults) -> Table:
    table = Table(title="cbr-orchestrator bench")
    for column in ("scenario", "figure", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for scenario, name, value in _rows(results):
        table.add_row(scenario, name, value)
    return table


def targets_table(results: BenchResults) -> Table:
    table = Table(title="targets")
    for column in ("scenario", "target", "wanted", "measured", "met"):
        table.add_column(column)
    verdicts = {True: "[green]met[/]", False: "[red]not met[/]", None: "[yellow]unknown[/]"}
    for t in results.targets():
        table.add_row(t.scenario, t.name, t.wanted, t.measured, verdicts[t.met])
    return table


def _rows(results: BenchResults) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for f in results.throughput:
        label = f"a ({f.workers} worker{'s' if f.workers > 1 else ''})"
        rows += [
            (label, "workflows succeeded / commands", f"{f.succeeded} / {f.commands}"),
            (label, "commands/s in (broker accepted)", f"{f.commands_per_second_in:.0f}"),
            (label, "completion events/s out", f"{f.events_per_second_out:.0f}"),
            (label, "wall (first publish → last event)", f"{f.wall_seconds:.2f} s"),
            (label, "CBR calls per workflow", _show(f.cbr_calls / f.commands if f.commands else None)),
            (label, "worker CPU per workflow", _show(f.cpu_ms_per_workflow, 2, " ms")),
        ]
    if results.fleet is not None:
        rows += _fleet_rows("b", results.fleet)
    if results.baseline is not None:
        rows += _baseline_rows(results.baseline)
    if results.api is not None:
        rows += _api_rows(results.api)
    if results.projects_fleet is not None:
        rows += _fleet_rows("e", results.projects_fleet)
    comparison = results.comparison
    if comparison is not None:
        rows += [
            ("c ÷ b", "wall time (baseline / orchestrator)", _show(comparison.wall_ratio)),
            ("c ÷ b", "API calls (baseline / orchestrator)", _show(comparison.calls_ratio, 1)),
            ("c ÷ b", "resources protected (orch. / baseline)",
             f"{comparison.protected_orchestrator} / {comparison.protected_baseline}"),
            ("c ÷ b", "left unexplained (orch. / baseline)",
             f"{comparison.unexplained_orchestrator} / {comparison.unexplained_baseline}"),
        ]  # fmt: skip
    rows += [("note", "", note) for note in results.notes]
    taken = ", ".join(f"{s} {t:.0f} s" for s, t in results.scenario_seconds.items())
    rows += [("all", "time each scenario took", taken)] if taken else []
    return rows


def _fleet_rows(label: str, f: FleetFigures) -> list[tuple[str, str, str]]:
    calls = ", ".join(f"{op} {n}" for op, n in sorted(f.calls_by_operation.items()))
    fleets = "one fleet" if f.fleets == 1 else f"{f.fleets} fleets, one per project"
    return [
        (label, "servers / projects / regions", f"{f.servers} / {f.projects} / {f.regions}: {fleets}, "
         f"selected by {f.select}"),
        (label, "limits per project", f"{f.floor.capacity} at once, {f.floor.requests_per_second:g} req/s "
         f"(burst {f.floor.burst}), d = {f.floor.task_seconds:g} s"),
        (label, "minimum", f.floor.describe()),
        (label, "floor of calls per project", f.floor.calls.describe()),
        (label, "outcome", str(f.outcome) + (" (timed out)" if f.timed_out else "")),
        (label, "protected / failed / skipped / lost",
         f"{f.protected} / {f.failed} / {f.skipped} / {f.lost}"),
        (label, "wall", f"{f.wall_seconds:.1f} s = {_show(f.wall_over_floor)} × minimum"),
        (label, "CBR calls", f"{f.api_calls}: {f.task_listing_calls} task listings "
         f"({_show(f.task_listings_per_project_second)} per project per second) + "
         f"{f.api_calls - f.task_listing_calls} others = {_show(f.calls_over_floor)} × floor "
         f"({f.floor.calls_total}); "
         f"{_show(f.calls_per_resource, 3)} per protected resource"),
        (label, "CBR calls by operation", calls or "none"),
        (label, "429s received", str(f.throttled)),
        (label, "peak backup tasks at once", _peaks(f)),
        (label, "final event after the last task", _show(f.event_lag_seconds, 2, " s")),
        (label, "backups per resource (emulator)", _audit(f)),
        (label, "peak RSS per worker", ", ".join(_show(m, 1, " MiB") for m in f.peak_rss_mib) or "n/a"),
        (label, "emulator latency p50 / p95 / p99", _latency(f.emulator_latency)),
        *([(label, "projects side by side", describe_spans(f.project_spans, f.floor.waves_seconds))]
          if f.projects > 1 else []),
        *((label, "status <fleet>" + (" --json" if c.as_json else ""), describe_status(c))
          for c in f.status_costs),
    ]  # fmt: skip


def _peaks(f: FleetFigures) -> str:
    peaks = sorted(f.peak_running.values())
    if not peaks:
        return "n/a"
    spread = str(peaks[0]) if peaks[0] == peaks[-1] else f"{peaks[0]} to {peaks[-1]}"
    return f"{spread} of {f.floor.capacity} per project"


def _audit(f: FleetFigures) -> str:
    a = f.audit
    if a is None:
        return "n/a"
    return f"{a.backups} backups of {a.resources} resources: {a.lost} lost, {a.duplicated} duplicated"


def _latency(latency: dict[str, Any]) -> str:
    p50, p95, p99 = latency.get("p50_ms"), latency.get("p95_ms"), latency.get("p99_ms")
    return f"{_show(p50, 1)} / {_show(p95, 1)} / {_show(p99, 1)} ms over {latency.get('count', 0)} requests"


def _baseline_rows(f: BaselineFigures) -> list[tuple[str, str, str]]:
    if not f.available:
        return [("c", "baseline", f"not run: {f.reason}")]
    calls = ", ".join(f"{op} {n}" for op, n in sorted(f.calls_by_operation.items()))
    return [
        ("c", "script", f"official SDK, {f.threads} threads, poll every {f.poll_seconds:g} s"),
        ("c", "protected / failed / unexplained", f"{f.protected} / {f.failed} / {f.unexplained}"),
        ("c", "wall", f"{f.wall_seconds:.1f} s"),
        ("c", "API calls", f"{f.api_calls} ({calls})"),
        ("c", "429s received", str(f.throttled)),
    ]


def _api_rows(api: ApiThroughput) -> list[tuple[str, str, str]]:
    label = f"d (API, {api.clients} callers)"
    return [
        (label, "accepted commands/s (Idempotency-Keys)", f"{api.per_second:.0f}"),
        (label, "latency p50 / p95", f"{api.p50_ms:.1f} / {api.p95_ms:.1f} ms"),
        (label, "accepted / refused", f"{api.accepted} / {api.refused}"),
    ]
