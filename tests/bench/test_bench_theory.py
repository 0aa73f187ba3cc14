"""The minimum and the floor of calls the bench compares against, and how it reads the emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.bench.backup_audit import BackupAudit
from orchestrator.bench.call_floor import CallFloor
from orchestrator.bench.emulator_process import EmulatorLimits
from orchestrator.bench.event_lag import event_lag_seconds
from orchestrator.bench.projects import bench_tenants
from orchestrator.bench.theory import Floor

ISSUE_LIMITS = EmulatorLimits(backup_capacity=200, requests_per_second=20, burst=20, task_seconds=3)


def test_the_minimum_is_the_larger_of_the_waves_and_the_request_rate() -> None:
    floor = Floor.of(10_000, ISSUE_LIMITS)
    assert (floor.waves, floor.waves_seconds) == (50, 150)
    assert floor.calls_total == 290
    assert floor.rate_seconds == 13.5  # (290 − 20) / 20
    assert floor.seconds == 150
    assert "ceil(10000/200)" in floor.describe()
    assert Floor.of(10_001, ISSUE_LIMITS).waves == 51
    tight = Floor.of(
        10_000, EmulatorLimits(backup_capacity=10_000, requests_per_second=2, burst=10, task_seconds=3)
    )
    assert tight.seconds == tight.rate_seconds == 140  # one wave of 3 s, but 280 calls at 2/s
    waited = Floor.of(10_000, EmulatorLimits(backup_capacity=200, task_seconds=3, waiting_seconds=1))
    assert (waited.seconds, waited.rate_seconds) == (151, 0.0)


def test_the_floor_of_calls_counts_what_any_tool_must_call() -> None:
    assert CallFloor(10_000, listed=True).to_json() == {
        "list_pages": 200, "vaults": 40, "resource_additions": 0, "checkpoints": 40, "backup_pages": 10,
        "total": 290,
    }  # fmt: skip
    assert CallFloor(10_000, listed=False).total == 90
    assert CallFloor(256, listed=True).to_json() == {
        "list_pages": 6, "vaults": 1, "resource_additions": 1, "checkpoints": 1, "backup_pages": 1,
        "total": 10,
    }  # fmt: skip


def test_many_projects_add_their_calls_but_run_side_by_side() -> None:
    floor = Floor.of(10_000, ISSUE_LIMITS, projects=10)
    assert (floor.calls_total, floor.seconds) == (2900, 150)


def test_bench_projects_spread_over_regions() -> None:
    tenants = bench_tenants(10, 2)
    assert len({t.project_id for t in tenants}) == 10
    assert [sum(t.region == r for t in tenants) for r in ("eu-west-101", "eu-west-0")] == [5, 5]
    assert bench_tenants(10, 2) == tenants  # the same on every run
    with pytest.raises(ValueError, match="regions must be 1 to 2"):
        bench_tenants(2, 3)


def _backup(resource: str, status: str, ended: str | None) -> dict[str, object]:
    return {"id": f"b-{resource}-{ended}", "resource_id": resource, "status": status, "ended_at": ended}


def test_the_audit_counts_backups_per_resource_and_the_lag_follows_the_last_task() -> None:
    ledger = {
        "projects": [
            {"backups": [
                _backup("r1", "available", "2026-01-01T10:00:01.500000"),
                _backup("r9", "available", None),
            ]},
            {"backups": [
                _backup("r2", "available", "2026-01-01T10:00:02.000000"),
                _backup("r2", "error", "2026-01-01T10:00:03.250000"),
                _backup("r3", "error", "2026-01-01T10:00:00.000000"),
            ]},
        ]
    }  # fmt: skip
    audit = BackupAudit.of(ledger, ["r1", "r2", "r3", "r4"])
    assert (audit.resources, audit.backups, audit.lost, audit.duplicated) == (
        4,
        4,
        2,
        1,
    )  # r3, r4 lost; r2 twice
    assert audit.last_task_end == datetime(2026, 1, 1, 10, 0, 3, 250000, tzinfo=UTC)
    event = {"time": "2026-01-01T10:00:04.000000+00:00"}
    assert event_lag_seconds(audit.last_task_end, event) == 0.75
    assert event_lag_seconds(None, event) is None
