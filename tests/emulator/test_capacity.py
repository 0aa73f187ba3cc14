"""A per-project capacity of running backup tasks: FIFO slots, durations from the start, fleet timing."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from emu_helpers import HOME, NEIGHBOUR, START, Api, build

from cbr_emulator import checkpoints
from cbr_emulator.config import Progression
from cbr_emulator.fleet_time import fifo_wall_seconds, lower_bound_seconds
from cbr_emulator.progression import task_seconds
from cbr_emulator.service import Emulator

# every backup lasts exactly base_seconds, whatever its size
UNIFORM = Progression(base_seconds=10, gb_per_second=1e12, waiting_seconds=5)


def _run(api: Api, count: int) -> list[str]:
    """Bind ``count`` servers to a vault and back them all up in one checkpoint; their ids in order."""
    servers = api.servers()[:count]
    vault = api.vault(resources=servers, size=100_000)
    ids = [s.id for s in servers]
    api.backup_run(vault["id"], resources=ids)
    return ids


def _logs_by_resource(api: Api) -> dict[str, Any]:
    return {log.resource["id"]: log for log in api.state.op_logs.values() if log.operation_type == "backup"}


def _tasks(emulator: Emulator, api: Api) -> dict[str, int]:
    project = next(p for p in emulator.describe()["projects"] if p["project_id"] == api.tenant.project_id)
    tasks: dict[str, int] = project["backup_tasks"]
    return tasks


def _seconds(moment: datetime | None) -> float:
    assert moment is not None
    return (moment - START).total_seconds()


def test_backups_beyond_capacity_wait_then_start_in_fifo_order() -> None:
    emulator = build(UNIFORM, servers=5, backup_capacity=2)
    api = Api(emulator)
    ids = _run(api, 5)
    api.advance(5)
    statuses = [_logs_by_resource(api)[rid].status for rid in ids]
    assert statuses == ["running", "running", "waiting", "waiting", "waiting"]
    assert [b["status"] for b in api.backups()].count("waiting_protect") == 3
    assert _tasks(emulator, api) == {"running": 2, "waiting": 3, "peak_running": 2}
    api.advance(30)
    logs = _logs_by_resource(api)
    assert [_seconds(logs[rid].started_at) for rid in ids] == [5, 5, 15, 15, 25]
    assert [_seconds(logs[rid].ended_at) for rid in ids] == [15, 15, 25, 25, 35]
    assert {logs[rid].status for rid in ids} == {"success"}
    assert _tasks(emulator, api) == {"running": 0, "waiting": 0, "peak_running": 2}
    assert fifo_wall_seconds([1.0] * 5, UNIFORM, 2) == pytest.approx(5 + math.ceil(5 / 2) * 10)


def test_capacity_is_per_project() -> None:
    emulator = build(UNIFORM, servers=3, backup_capacity=1)
    home, neighbour = Api(emulator, HOME), Api(emulator, NEIGHBOUR)
    _run(home, 3)
    (theirs,) = _run(neighbour, 1)
    home.advance(5)
    assert _tasks(emulator, home) == {"running": 1, "waiting": 2, "peak_running": 1}
    assert _logs_by_resource(neighbour)[theirs].status == "running"


def test_raising_the_capacity_starts_waiting_tasks_at_once() -> None:
    emulator = build(UNIFORM, servers=3, backup_capacity=1)
    api = Api(emulator)
    ids = _run(api, 3)
    api.advance(7)
    emulator.set_backup_capacity(None)
    logs = _logs_by_resource(api)
    assert [_seconds(logs[rid].started_at) for rid in ids] == [5, 7, 7]
    assert _tasks(emulator, api)["running"] == 3


def test_a_new_progression_keeps_the_queue_and_its_order() -> None:
    emulator = build(UNIFORM, servers=3, backup_capacity=1)
    api = Api(emulator)
    ids = _run(api, 3)
    api.advance(8)
    emulator.set_progression(Progression.instantly())
    api.advance(0)
    logs = _logs_by_resource(api)
    assert [logs[rid].status for rid in ids] == ["success"] * 3
    assert sorted(ids, key=lambda rid: (logs[rid].started_at, logs[rid].sequence)) == ids
    assert _tasks(emulator, api) == {"running": 0, "waiting": 0, "peak_running": 1}


def test_a_tick_costs_the_due_transitions_and_progress_the_running_tasks_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = build(UNIFORM, servers=200, data_disks=0, backup_capacity=5)
    api = Api(emulator)
    _run(api, 200)
    api.advance(6)
    assert len(emulator.world.scheduler) == 5  # one end timer per running task, none for the queue
    reports: list[int] = []
    original = checkpoints.BackupJob.report

    def counted(self: checkpoints.BackupJob, progress: int, at: datetime) -> None:
        reports.append(progress)
        original(self, progress, at)

    monkeypatch.setattr(checkpoints.BackupJob, "report", counted)
    api.ok("list_vault")
    assert reports == []
    api.logs(status="running")
    assert reports == [10] * 5


def test_indexed_queries_answer_what_a_full_scan_does() -> None:
    progression = UNIFORM.model_copy(update={"failure_probability": 0.5})
    emulator = build(progression, servers=40, backup_capacity=7)
    api = Api(emulator)
    servers = api.servers()
    vaults = [api.vault(resources=servers[i : i + 10], name=f"v{i}", size=100_000) for i in (0, 10, 20, 30)]
    runs = [api.backup_run(v["id"]) for v in vaults[:3]]
    api.advance(27)
    runs.append(api.backup_run(vaults[3]["id"]))
    api.advance(3)
    everything = api.logs(limit="1000")
    assert {log["status"] for log in everything} >= {"success", "failed", "running", "waiting"}
    for status in ("success", "failed", "running", "waiting"):
        for vault in vaults:
            wanted = [
                log["id"] for log in everything if log["status"] == status and log["vault_id"] == vault["id"]
            ]
            found = api.logs(status=status, vault_id=vault["id"], operation_type="backup")
            assert [log["id"] for log in found] == wanted
    all_backups = api.backups(limit="1000")
    for run in runs:
        by_checkpoint = api.backups(checkpoint_id=run["id"])
        assert [b["id"] for b in by_checkpoint] == [
            b["id"] for b in all_backups if b["checkpoint_id"] == run["id"]
        ]


def test_logs_are_listed_newest_first_with_equal_times_in_creation_order() -> None:
    emulator = build(UNIFORM, servers=4)
    api = Api(emulator)
    first = _run(api, 2)
    api.advance(60)
    vault = api.vault(resources=api.servers()[2:4], name="later", size=100_000)
    api.backup_run(vault["id"])
    listed = [log["resource"]["id"] for log in (entry["extra_info"] for entry in api.logs())]
    assert listed[2:] == first
    assert listed[:2] == [s.id for s in api.servers()[2:4]]


def test_task_seconds_and_the_fleet_bounds() -> None:
    progression = Progression(base_seconds=60, gb_per_second=0.5, waiting_seconds=20)
    assert task_seconds(40, progression) == 140
    assert task_seconds(40, Progression.instantly()) == 0
    sizes = [1.0] * 1000
    uniform = Progression(base_seconds=30, gb_per_second=1e12, waiting_seconds=2)
    assert fifo_wall_seconds(sizes, uniform, 200) == pytest.approx(2 + 5 * 30)
    assert lower_bound_seconds(sizes, uniform, 200) == pytest.approx(2 + 5 * 30)
    assert fifo_wall_seconds(sizes[:201], uniform, 200) == pytest.approx(2 + 2 * 30)
    mixed = [100.0, 10.0, 10.0, 10.0]
    assert lower_bound_seconds(mixed, progression, 2) <= fifo_wall_seconds(mixed, progression, 2)
    assert fifo_wall_seconds(mixed, progression, None) == 20 + task_seconds(100, progression)
    assert fifo_wall_seconds([], progression, 3) == lower_bound_seconds([], progression, 3) == 0


def test_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="backup_capacity"):
        build(UNIFORM, backup_capacity=0)


def test_durations_count_from_the_start_not_the_submission() -> None:
    emulator = build(UNIFORM, servers=2, backup_capacity=1)
    api = Api(emulator)
    ids = _run(api, 2)
    api.advance(100)
    logs = _logs_by_resource(api)
    waited = logs[ids[1]].started_at - logs[ids[1]].created_at
    ran = logs[ids[1]].ended_at - logs[ids[1]].started_at
    assert (waited, ran) == (timedelta(seconds=15), timedelta(seconds=10))
