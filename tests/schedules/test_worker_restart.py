"""Real workers on a schedule every 4 s (occurrences near now, real time): one worker runs it, stops, and
two start in its place; every occurrence from the first to the last ran once, as a fleet backup that
succeeds on the emulator, none doubled, none skipped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from engine_helpers import eventually
from scene import occurrence_of, schedule, scheduled_commands, second_now

from orchestrator.config import ScheduleSettings, Settings
from orchestrator.schedules.catalog import add_schedule, find_schedule
from orchestrator.schedules.spec import checked_spec
from orchestrator.store import Store
from orchestrator.store.models import WorkflowStatus
from orchestrator.worker import run_worker

INTERVAL = 4


async def _workers_until(settings: Settings, dsn: str, count: int, workers: int) -> None:
    """``workers`` workers running until the schedule made ``count`` workflows in all; then stopped."""
    stop = asyncio.Event()
    running = [asyncio.create_task(run_worker(settings, stop, owner=f"w{i}-{count}")) for i in range(workers)]

    async def made() -> bool:
        return len(await scheduled_commands(dsn, "restart")) >= count

    try:
        await eventually(made, INTERVAL * count + 30, step=0.1)
    finally:
        stop.set()
        await asyncio.gather(*running)


async def test_a_schedule_survives_a_worker_restart_without_a_double_or_a_miss(
    settings: Settings, store: Store, dsn: str
) -> None:
    quick = settings.model_copy(update={"schedules": ScheduleSettings(tick_seconds=0.2)})
    start = second_now() + timedelta(seconds=2)
    await add_schedule(store, checked_spec(schedule("restart", f"FREQ=SECONDLY;INTERVAL={INTERVAL}", start)))
    await _workers_until(quick, dsn, 2, workers=1)
    await _workers_until(quick, dsn, 4, workers=2)  # the restart, and a second scheduler beside it
    commands = await scheduled_commands(dsn, "restart")
    occurrences = [occurrence_of(c) for c in commands]
    first = occurrences[0]
    assert occurrences == [first + timedelta(seconds=INTERVAL * i) for i in range(len(occurrences))]
    shown = await find_schedule(store, "restart")
    assert shown is not None and shown.last_run.skipped == 0
    unscheduled = quick.model_copy(update={"schedules": ScheduleSettings(enabled=False)})
    await asyncio.wait_for(run_worker(unscheduled, asyncio.Event(), drain=True), 60)  # the last ones run
    workflows = [await store.workflow_by_command(c) for c in commands]
    assert [w.status if w else None for w in workflows] == [WorkflowStatus.SUCCEEDED] * len(commands)
