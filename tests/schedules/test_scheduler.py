"""The scheduler against PostgreSQL, on a clock the test moves: each occurrence submitted once as a
fleet_backup workflow; two schedulers at once, a tick lost in a crash and a restart never double one; after
downtime the latest missed occurrence runs once; one beyond the catch-up window does not run."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from quick_settings import emulator_settings
from scene import Clock, occurrence_of, schedule, scheduled_commands, second_now

from orchestrator.config import ScheduleSettings, Settings
from orchestrator.schedules.catalog import add_schedule, find_schedule
from orchestrator.schedules.scheduler import BEYOND_WINDOW, Firing, Scheduler
from orchestrator.schedules.spec import checked_spec
from orchestrator.store import Store

EVERY_2S = "FREQ=SECONDLY;INTERVAL=2"


def _settings(dsn: str, **schedules: Any) -> Settings:
    # nothing here runs a workflow: no emulator behind the endpoint
    return emulator_settings(dsn, "http://127.0.0.1:9", schedules=ScheduleSettings(**schedules))


async def _tick_at(scheduler: Scheduler, clock: Clock, instant: datetime) -> list[Firing]:
    """A tick at ``instant``, by the only scheduler (the leader)."""
    clock.at(instant)
    fired = await scheduler.tick()
    assert fired is not None
    return fired


async def _killed_mid_tick(scheduler: Scheduler, store: Store, now: datetime) -> None:
    async with store.schedules.leader_tick() as tick:
        assert tick is not None
        [fired] = [await scheduler.fire(tick, row, now) for row in tick.schedules]
        assert fired is not None and fired.new
        raise RuntimeError("killed")


async def _added(store: Store, rrule: str, clock: Clock, name: str = "every2s") -> None:
    await add_schedule(store, checked_spec(schedule(name, rrule, clock.now + timedelta(seconds=10))))


async def test_an_occurrence_is_submitted_once_as_a_fleet_backup(store: Store, dsn: str) -> None:
    clock = Clock()
    start = clock.now + timedelta(seconds=10)
    await _added(store, EVERY_2S, clock)
    scheduler = Scheduler(store, _settings(dsn), clock)
    assert await scheduler.tick() == []  # before the start
    [fired] = await _tick_at(scheduler, clock, start + timedelta(seconds=0.5))
    assert (fired.new, fired.skipped, fired.occurrence) == (True, 0, start)
    assert await scheduler.tick() == []  # the same instant again: nothing more
    [command_id] = await scheduled_commands(dsn, "every2s")
    workflow = await store.workflow_by_command(command_id)
    assert workflow is not None and workflow.kind == "fleet_backup"
    assert workflow.input["command_id"] == command_id
    shown = await find_schedule(store, "every2s")
    assert shown is not None and shown.last_run.workflow_id == workflow.id
    assert shown.last_run.outcome == "pending"


async def test_after_downtime_the_latest_missed_occurrence_runs_once(store: Store, dsn: str) -> None:
    clock = Clock()
    start = clock.now + timedelta(seconds=10)
    await _added(store, EVERY_2S, clock)
    scheduler = Scheduler(store, _settings(dsn), clock)
    await _tick_at(scheduler, clock, start + timedelta(seconds=1))
    [fired] = await _tick_at(scheduler, clock, start + timedelta(seconds=21))
    assert (fired.occurrence, fired.skipped, fired.new) == (start + timedelta(seconds=20), 9, True)
    assert [occurrence_of(c) for c in await scheduled_commands(dsn, "every2s")] == [start, fired.occurrence]
    shown = await find_schedule(store, "every2s", clock.now)
    assert shown is not None and shown.last_run.skipped == 9
    assert shown.next_occurrence == start + timedelta(seconds=22)


async def test_an_occurrence_beyond_the_catch_up_window_does_not_run(store: Store, dsn: str) -> None:
    clock = Clock()
    start = clock.now + timedelta(seconds=10)
    await _added(store, "FREQ=SECONDLY;INTERVAL=10", clock)
    scheduler = Scheduler(store, _settings(dsn, catch_up_window_seconds=5), clock)
    [fired] = await _tick_at(scheduler, clock, start + timedelta(seconds=107))
    # 0, 10, … 100 s after the start all missed; the latest, 7 s ago, is beyond the window too
    assert (fired.command_id, fired.skipped, fired.refusal) == (None, 11, BEYOND_WINDOW)
    assert await scheduled_commands(dsn, "every2s") == []
    [fired] = await _tick_at(scheduler, clock, start + timedelta(seconds=111))
    assert fired.command_id is not None
    assert (fired.occurrence, fired.skipped) == (start + timedelta(seconds=110), 0)


async def test_two_schedulers_at_once_never_double_an_occurrence(store: Store, dsn: str) -> None:
    clock = Clock()
    start = clock.now + timedelta(seconds=10)
    await _added(store, EVERY_2S, clock)
    other_store = await Store.connect(dsn, max_size=2)
    try:
        schedulers = [Scheduler(s, _settings(dsn), clock) for s in (store, other_store) for _ in range(2)]
        clock.at(start)
        for _ in range(20):
            clock.plus(1)
            results = await asyncio.gather(*(s.tick() for s in schedulers))
            assert sum(len(r or []) for r in results) <= 1
    finally:
        await other_store.close()
    occurrences = [occurrence_of(c) for c in await scheduled_commands(dsn, "every2s")]
    assert occurrences == [start + timedelta(seconds=s) for s in range(0, 21, 2)]


async def test_a_tick_lost_in_a_crash_and_a_restart_neither_double_nor_miss(store: Store, dsn: str) -> None:
    clock = Clock()
    start = clock.now + timedelta(seconds=10)
    await _added(store, EVERY_2S, clock)
    first = Scheduler(store, _settings(dsn), clock)
    for offset in (0.5, 2.5):
        await _tick_at(first, clock, start + timedelta(seconds=offset))
    # a worker dies after it submitted the next occurrence, before its tick committed: both undone together
    with pytest.raises(RuntimeError, match="killed"):
        await _killed_mid_tick(first, store, start + timedelta(seconds=4.5))
    restarted_store = await Store.connect(dsn, max_size=2)
    try:
        restarted = Scheduler(restarted_store, _settings(dsn), clock)
        for offset in (4.6, 6.5, 8.5):
            fired = await _tick_at(restarted, clock, start + timedelta(seconds=offset))
            assert fired is not None and [f.skipped for f in fired] == [0]
    finally:
        await restarted_store.close()
    occurrences = [occurrence_of(c) for c in await scheduled_commands(dsn, "every2s")]
    assert occurrences == [start + timedelta(seconds=s) for s in (0, 2, 4, 6, 8)]


async def test_a_record_lost_submits_a_duplicate_not_a_second_workflow(store: Store, dsn: str) -> None:
    clock = Clock()
    start = clock.now + timedelta(seconds=10)
    await _added(store, EVERY_2S, clock)
    scheduler = Scheduler(store, _settings(dsn), clock)
    [fired] = await _tick_at(scheduler, clock, start + timedelta(seconds=1))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE schedules SET last_occurrence = NULL")  # as if the record never happened
    finally:
        await conn.close()
    [again] = await scheduler.tick()
    assert (again.command_id, again.new, fired.new) == (fired.command_id, False, True)
    assert len(await scheduled_commands(dsn, "every2s")) == 1


async def test_an_occurrence_for_a_project_without_credentials_is_refused_and_said(
    store: Store, dsn: str
) -> None:
    clock = Clock()
    await _added(store, EVERY_2S, clock)
    without = emulator_settings(dsn, "http://127.0.0.1:9", credentials=[])
    [fired] = await _tick_at(Scheduler(store, without, clock), clock, clock.now + timedelta(seconds=11))
    assert fired.command_id is None and fired.refusal is not None and "no credentials" in fired.refusal
    shown = await find_schedule(store, "every2s")
    assert shown is not None and shown.last_run.refusal == fired.refusal


async def test_a_disabled_schedule_does_not_run(store: Store, dsn: str) -> None:
    now = second_now()
    raw = schedule("off", EVERY_2S, now, enabled=False)
    await add_schedule(store, checked_spec(raw))
    clock = Clock(now + timedelta(seconds=5))
    assert await Scheduler(store, _settings(dsn), clock).tick() == []
