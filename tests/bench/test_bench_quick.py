"""The bench in small: every scenario runs against an emulator in its own process, figures are sane.

Speed targets are not asserted here (they are the full bench's business); completeness is.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from orchestrator.bench import BenchOptions, figures_table, run_bench, targets_table, write_json
from orchestrator.bench.fleet import FleetFigures

TARGETS = {"a": 1, "b": 8, "c": 2, "e": 8}


def _assert_fleet_complete(fleet: FleetFigures | None, servers: int) -> None:
    assert fleet is not None and not fleet.timed_out
    assert (fleet.outcome, fleet.protected, fleet.failed, fleet.lost) == ("succeeded", servers, 0, 0)
    audit = fleet.audit
    assert audit is not None  # the emulator's own count: one available backup per server
    assert (audit.resources, audit.backups, audit.lost, audit.duplicated) == (servers, servers, 0, 0)
    assert fleet.wall_seconds >= fleet.floor.seconds  # nothing beats the emulator's limits
    assert fleet.api_calls >= fleet.floor.calls_total > 0
    assert fleet.calls_by_operation["list_protectable"] >= fleet.floor.calls.list_pages * fleet.projects
    assert fleet.event_lag_seconds is not None and fleet.event_lag_seconds >= 0  # the event follows the tasks
    assert fleet.peak_rss_max_mib is not None and fleet.peak_rss_max_mib > 10
    assert len(fleet.peak_running) == fleet.projects
    assert all(0 < peak <= (fleet.floor.capacity or 0) for peak in fleet.peak_running.values())
    assert fleet.emulator_latency["count"] >= fleet.api_calls  # every answer, the throttled ones too
    assert 0 < fleet.emulator_latency["p50_ms"] <= fleet.emulator_latency["p95_ms"]
    assert fleet.emulator_latency["p95_ms"] <= fleet.emulator_latency["p99_ms"]
    assert [(c.as_json, c.exit_code) for c in fleet.status_costs] == [(False, 0), (True, 0)]  # status <fleet>
    assert all(c.output_bytes > 0 and c.peak_rss_mib > 10 for c in fleet.status_costs)
    assert [s.seconds > 0 for s in fleet.project_spans] == [True] * fleet.projects


async def test_quick_bench_measures_every_scenario(tmp_path: Path) -> None:
    options = replace(BenchOptions().quick(), throughput_commands=100)
    results = await run_bench(options)

    assert [f.workers for f in results.throughput] == [1, 2]
    for run in results.throughput:
        assert run.complete, run
        assert run.commands_per_second_in > 0 and run.events_per_second_out > 0
        assert run.cpu_ms_per_workflow is not None and run.cpu_ms_per_workflow > 0
    _assert_fleet_complete(results.fleet, 300)
    assert results.fleet is not None and results.fleet.floor.waves_seconds == 10
    _assert_fleet_complete(results.projects_fleet, 270)
    projects = results.projects_fleet
    assert projects is not None and (projects.projects, projects.regions, projects.fleets) == (3, 2, 1)
    baseline = results.baseline
    assert baseline is not None and baseline.available, baseline
    assert baseline.protected + baseline.failed + baseline.unexplained == 300
    assert baseline.calls_by_operation["create_checkpoint"] >= 300
    comparison = results.comparison
    assert comparison is not None
    assert comparison.calls_ratio is not None and comparison.wall_ratio is not None
    api = results.api
    assert api is not None and api.accepted > 0 and api.refused == 0 and api.per_second > 0
    targets = results.targets()
    assert {s: sum(t.scenario == s for t in targets) for s in TARGETS} == TARGETS
    assert all(t.met is not None for t in targets)

    written = json.loads(write_json(results, tmp_path / "bench.json").read_text("utf-8"))
    assert written["fleet"]["floor"]["calls_per_project"]["list_pages"] == 6
    assert written["projects_fleet"]["audit"]["duplicated"] == 0
    fleet = written["fleet"]  # task listings are counted apart from the floor, per project and second
    assert 0 < fleet["task_listing_calls"] == fleet["calls_by_operation"]["list_op_logs"]
    others = fleet["api_calls"] - fleet["task_listing_calls"]
    assert fleet["calls_over_floor"] == round(others / fleet["floor"]["calls_total"], 3)
    assert written["throughput"][0]["cpu_ms_per_workflow"] > 0
    assert written["comparison"]["baseline_calls_over_orchestrator_calls"] > 1
    assert len(written["targets"]) == sum(TARGETS.values())
    assert set(written["scenario_seconds"]) == {"a", "b", "c", "d", "e"}
    assert written["api"]["accepted"] == api.accepted
    assert figures_table(results).row_count > 40
    assert targets_table(results).row_count == sum(TARGETS.values())
