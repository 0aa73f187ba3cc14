"""The bench in small: every scenario runs against an emulator in its own process, figures are sane.

Speed targets are not asserted here (they are the full bench's business); completeness is.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from orchestrator.bench import BenchOptions, figures_table, run_bench, targets_table, write_json
from orchestrator.bench.emulator_process import EmulatorLimits
from orchestrator.bench.theory import Floor


def test_the_floor_follows_the_emulators_duration_model() -> None:
    limits = EmulatorLimits(backup_capacity=200, requests_per_second=20, task_seconds=3, waiting_seconds=1)
    floor = Floor.of(10_000, limits)
    assert floor.waves == 50
    assert floor.seconds == 151
    assert floor.calls_seconds(0.25) == 125
    assert "ceil(10000/200)" in floor.describe()
    assert Floor.of(10_001, limits).waves == 51


async def test_quick_bench_measures_every_scenario(tmp_path: Path) -> None:
    options = replace(BenchOptions().quick(), throughput_commands=100)
    results = await run_bench(options)

    assert [f.workers for f in results.throughput] == [1, 2]
    for run in results.throughput:
        assert run.complete, run
        assert run.commands_per_second_in > 0 and run.events_per_second_out > 0
    fleet = results.fleet
    assert fleet is not None and not fleet.timed_out
    assert (fleet.outcome, fleet.protected, fleet.failed, fleet.lost) == ("succeeded", 600, 0, 0)
    assert fleet.wall_seconds >= fleet.floor.seconds == 10  # nothing beats the emulator's limits
    assert fleet.calls_per_resource is not None and fleet.api_calls > 0
    assert fleet.peak_rss_max_mib is not None and fleet.peak_rss_max_mib > 10
    baseline = results.baseline
    assert baseline is not None and baseline.available, baseline
    assert baseline.protected + baseline.failed + baseline.unexplained == 600
    assert baseline.calls_by_operation["create_checkpoint"] >= 600
    comparison = results.comparison
    assert comparison is not None
    assert comparison.calls_ratio is not None and comparison.wall_ratio is not None
    api = results.api
    assert api is not None and api.accepted > 0 and api.refused == 0 and api.per_second > 0
    assert {t.scenario for t in results.targets()} == {"a", "b", "c"}
    assert all(t.met is not None for t in results.targets())

    written = json.loads(write_json(results, tmp_path / "bench.json").read_text("utf-8"))
    assert written["fleet"]["floor"]["formula"] == "w + ceil(T/C)·d"
    assert written["comparison"]["baseline_calls_over_orchestrator_calls"] > 1
    assert len(written["targets"]) == 7
    assert written["api"]["accepted"] == api.accepted
    assert figures_table(results).row_count > 20
    assert targets_table(results).row_count == 7
