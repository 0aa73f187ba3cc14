"""The clock, the timer queue and the task state machine, on their own."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from cbr_emulator.clock import Clock, parse_filter_time, policy_stamp, stamp
from cbr_emulator.config import Progression
from cbr_emulator.progression import Scheduler, TaskRunner, Timeline, plan

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_manual_clock_stands_still_until_advanced() -> None:
    clock = Clock(manual=True, start=T0)
    assert clock.now() == T0
    assert clock.advance(90) == T0 + timedelta(seconds=90)
    assert clock.now().tzinfo is not None


def test_naive_start_is_read_as_utc_and_clock_never_goes_back() -> None:
    clock = Clock(manual=True, start=datetime(2025, 3, 1, 12, 0))
    assert clock.now() == T0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_real_clock_follows_wall_time_and_can_be_shifted() -> None:
    clock = Clock()
    before = datetime.now(UTC)
    assert abs((clock.now() - before).total_seconds()) < 5
    clock.advance(3600)
    assert (clock.now() - datetime.now(UTC)).total_seconds() > 3590
    started = Clock(start=T0)
    assert abs((started.now() - T0).total_seconds()) < 5


def test_timestamp_shapes() -> None:
    moment = datetime(2020, 2, 5, 10, 38, 34, 209782, tzinfo=UTC)
    assert stamp(moment) == "2020-02-05T10:38:34.209782"
    assert policy_stamp(moment) == "2020-02-05 10:38:34"
    assert parse_filter_time("2018-02-01T12:00:00Z") == datetime(2018, 2, 1, 12, tzinfo=UTC)
    assert parse_filter_time("2018-02-01T12:00:00.5") == datetime(2018, 2, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert parse_filter_time("yesterday") is None


def test_scheduler_runs_due_actions_in_time_then_submission_order() -> None:
    scheduler = Scheduler()
    ran: list[str] = []
    scheduler.at(T0 + timedelta(seconds=5), lambda at: ran.append("b"))
    scheduler.at(T0, lambda at: ran.append("a1"))
    scheduler.at(T0, lambda at: ran.append("a2"))
    scheduler.at(T0 + timedelta(seconds=9), lambda at: ran.append("late"))
    assert scheduler.run_until(T0 + timedelta(seconds=5)) == 3
    assert ran == ["a1", "a2", "b"]
    assert len(scheduler) == 1


def test_scheduler_runs_actions_scheduled_while_running_and_survives_a_broken_one() -> None:
    scheduler = Scheduler()
    seen: list[datetime] = []

    def chain(at: datetime) -> None:
        seen.append(at)
        if len(seen) < 3:
            scheduler.at(at + timedelta(seconds=1), chain)

    def broken(at: datetime) -> None:
        raise RuntimeError("boom")

    scheduler.at(T0, broken)
    scheduler.at(T0, chain)
    scheduler.run_until(T0 + timedelta(seconds=10))
    assert seen == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    assert scheduler.failures == 1


def test_plan_and_progress() -> None:
    progression = Progression(base_seconds=10, gb_per_second=2, waiting_seconds=5)
    timeline = plan(progression, T0, size_gb=40)
    assert timeline.starts_at == T0 + timedelta(seconds=5)
    assert timeline.ends_at == T0 + timedelta(seconds=35)
    assert timeline.progress(T0) == 0
    assert timeline.progress(T0 + timedelta(seconds=20)) == 50
    assert timeline.progress(T0 + timedelta(seconds=34.9)) == 99
    assert timeline.progress(T0 + timedelta(seconds=35)) == 100
    assert plan(Progression.instantly(), T0, 500) == Timeline(T0, T0, T0)


@dataclass
class FakeJob:
    size_gb: float = 10.0
    may_fail: bool = True
    events: list[tuple[str, object]] = field(default_factory=list)

    def begin(self, at: datetime) -> None:
        self.events.append(("begin", at))

    def report(self, progress: int, at: datetime) -> None:
        self.events.append(("report", progress))

    def finish(self, at: datetime, failed: bool) -> None:
        self.events.append(("finish", failed))


def _runner(progression: Progression) -> tuple[Scheduler, TaskRunner, list[Progression]]:
    scheduler = Scheduler()
    current = [progression]
    return scheduler, TaskRunner(scheduler, random.Random(1), lambda: current[0]), current


def test_runner_moves_a_job_through_its_phases() -> None:
    scheduler, runner, _ = _runner(Progression(base_seconds=10, gb_per_second=1, waiting_seconds=5))
    job = FakeJob()
    runner.submit(job, T0)
    scheduler.run_until(T0 + timedelta(seconds=4))
    assert job.events == []
    scheduler.run_until(T0 + timedelta(seconds=15))
    runner.refresh(T0 + timedelta(seconds=15))
    assert job.events == [("begin", T0 + timedelta(seconds=5)), ("report", 50)]
    scheduler.run_until(T0 + timedelta(seconds=25))
    assert job.events[-1] == ("finish", False)
    assert len(runner) == 0


def test_runner_fails_the_configured_share_of_jobs() -> None:
    scheduler, runner, _ = _runner(Progression(instant=True, failure_probability=1.0))
    doomed, safe = FakeJob(), FakeJob(may_fail=False)
    runner.submit(doomed, T0)
    runner.submit(safe, T0)
    scheduler.run_until(T0)
    assert doomed.events[-1] == ("finish", True)
    assert safe.events[-1] == ("finish", False)


def test_replan_to_instant_finishes_unfinished_jobs_at_the_next_tick() -> None:
    scheduler, runner, current = _runner(Progression.realistic())
    job = FakeJob(size_gb=500)
    runner.submit(job, T0)
    current[0] = Progression.instantly()
    runner.replan(T0 + timedelta(seconds=1))
    scheduler.run_until(T0 + timedelta(seconds=1))
    assert [e[0] for e in job.events] == ["begin", "finish"]
    scheduler.run_until(T0 + timedelta(days=1))  # the stale timers of the first plan do nothing
    assert [e[0] for e in job.events] == ["begin", "finish"]
