"""The scheduler loop of a worker: every tick, the leader (whoever takes the advisory lock first) submits
each schedule's due occurrence, as intake commits a command, and records it in the same transaction.

Exactly one workflow per occurrence: its command id is derived from the schedule and the occurrence, so a
tick run twice (two schedulers, a crash before the commit) names the workflow already there. After
downtime only the latest missed occurrence runs (the others are counted as skipped); one further back
than the catch-up window does not run at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orchestrator.broker.acceptance import check_acceptable
from orchestrator.broker.intake import new_workflow
from orchestrator.config import Settings
from orchestrator.messages import InvalidCommand
from orchestrator.schedules.rules import BadRule, due, read_rule
from orchestrator.schedules.spec import InvalidSchedule, occurrence_command, occurrence_command_id
from orchestrator.store import Store
from orchestrator.store.schedules import LeaderTick, ScheduleRow

log = logging.getLogger(__name__)
BEYOND_WINDOW = "beyond the catch-up window: not run"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Firing:
    """What a tick did about one schedule's due occurrence."""

    schedule: str
    occurrence: datetime
    skipped: int
    command_id: str | None  # None: nothing submitted
    new: bool = False  # the workflow was created by this tick (not a duplicate)
    refusal: str | None = None


class Scheduler:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._window = timedelta(seconds=settings.schedules.catch_up_window_seconds)

    async def run(self, stop_event: asyncio.Event) -> None:
        """Tick until ``stop_event``; a tick that fails (the database away) is tried again next time."""
        while not stop_event.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.warning("schedule tick failed (%s); the next one tries again", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), self._settings.schedules.tick_seconds)

    async def tick(self) -> list[Firing] | None:
        """Deal with every due occurrence; None when another scheduler holds the lock."""
        now = self._clock()
        async with self._store.schedules.leader_tick() as tick:
            if tick is None:
                return None
            firings = [await self.fire(tick, row, now) for row in tick.schedules]
            return [f for f in firings if f is not None]

    async def fire(self, tick: LeaderTick, row: ScheduleRow, now: datetime) -> Firing | None:
        after = row.last_occurrence or row.created_at
        try:
            rule = read_rule(row.rrule, row.time_zone, row.dtstart, near=after)
        except BadRule as exc:
            log.warning("schedule %s cannot be read (%s); not run", row.name, exc)
            return None
        found = due(rule, after, now, self._window)
        if found is None:
            return None
        if not found.in_window:
            skipped = found.skipped + 1
            await tick.record(row.id, found.occurrence, skipped, None, BEYOND_WINDOW)
            log.warning(
                "schedule %s: %d missed occurrence(s), the latest %s %s",
                row.name, skipped, found.occurrence.isoformat(), BEYOND_WINDOW,
            )  # fmt: skip
            return Firing(row.name, found.occurrence, skipped, None, refusal=BEYOND_WINDOW)
        command_id = occurrence_command_id(row.id, row.name, found.occurrence)
        try:
            command = occurrence_command(row.template, command_id)
            check_acceptable(command, self._settings)
        except (InvalidSchedule, InvalidCommand) as exc:
            reason = exc.reason
            await tick.record(row.id, found.occurrence, found.skipped, None, reason)
            when = found.occurrence.isoformat()
            log.warning("schedule %s: occurrence %s refused: %s", row.name, when, reason)
            return Firing(row.name, found.occurrence, found.skipped, None, refusal=reason)
        new = await tick.submit(row.id, found.occurrence, found.skipped, new_workflow(command))
        log.info(
            "schedule %s: occurrence %s → command %s (%s; %d earlier missed occurrence(s) skipped)",
            row.name, found.occurrence.isoformat(), command_id, "new" if new else "duplicate", found.skipped,
        )  # fmt: skip
        return Firing(row.name, found.occurrence, found.skipped, command_id, new)
