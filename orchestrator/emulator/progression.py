"""Asynchronous work on the emulator's clock: a timer queue and the task state machine.

A task waits (``waiting_seconds``), then runs for ``base_seconds + size_gb / gb_per_second``, then ends;
``instant`` progression ends it at the next tick. Every transition happens at its own scheduled time,
in time order, so a clock that jumps forward replays the same history a slowly moving one would have.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from orchestrator.emulator.config import Progression

log = logging.getLogger(__name__)
Action = Callable[[datetime], None]


class Scheduler:
    """Actions due at a time, run in (time, submission) order by :meth:`run_until`."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Action]] = []
        self._order = itertools.count()
        self.failures = 0

    def at(self, when: datetime, action: Action) -> None:
        heapq.heappush(self._heap, (when, next(self._order), action))

    def __len__(self) -> int:
        return len(self._heap)

    def run_until(self, now: datetime) -> int:
        """Run every action due at or before ``now``, including those scheduled meanwhile."""
        ran = 0
        while self._heap and self._heap[0][0] <= now:
            when, _, action = heapq.heappop(self._heap)
            try:
                action(when)
            except Exception:  # one broken timer must not stop the emulator's time
                self.failures += 1
                log.exception("emulator timer at %s failed", when.isoformat())
            ran += 1
        return ran


@dataclass(frozen=True)
class Timeline:
    queued_at: datetime
    starts_at: datetime
    ends_at: datetime

    def progress(self, now: datetime) -> int:
        """0 while waiting, 0–99 while running, 100 once done."""
        if now >= self.ends_at:
            return 100
        if now <= self.starts_at:
            return 0
        done = (now - self.starts_at) / (self.ends_at - self.starts_at)
        return min(99, int(done * 100))


def plan(progression: Progression, queued_at: datetime, size_gb: float, share_done: float = 0.0) -> Timeline:
    """When a task queued at ``queued_at`` starts and ends; ``share_done`` of it is already behind it."""
    if progression.instant:
        return Timeline(queued_at, queued_at, queued_at)
    waiting = 0.0 if share_done > 0 else progression.waiting_seconds
    running = (progression.base_seconds + size_gb / progression.gb_per_second) * (1.0 - share_done)
    starts_at = queued_at + timedelta(seconds=waiting)
    return Timeline(queued_at, starts_at, starts_at + timedelta(seconds=running))


class Job(Protocol):
    """One unit of asynchronous work (one backup, restore, replication or deletion)."""

    @property
    def size_gb(self) -> float: ...

    @property
    def may_fail(self) -> bool: ...

    def begin(self, at: datetime) -> None: ...

    def report(self, progress: int, at: datetime) -> None: ...

    def finish(self, at: datetime, failed: bool) -> None: ...


@dataclass
class _Entry:
    job: Job
    timeline: Timeline
    generation: int = 0
    started: bool = False


class TaskRunner:
    """Moves jobs through waiting → running → done on the scheduler's timeline."""

    def __init__(
        self, scheduler: Scheduler, rng: random.Random, progression: Callable[[], Progression]
    ) -> None:
        self._scheduler = scheduler
        self._rng = rng
        self._progression = progression
        self._active: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._active)

    def submit(self, job: Job, at: datetime) -> None:
        entry = _Entry(job, plan(self._progression(), at, job.size_gb))
        self._active[id(entry)] = entry
        self._arm(entry)

    def refresh(self, now: datetime) -> None:
        """Bring the progress of every running job up to ``now``."""
        for entry in self._active.values():
            if entry.started:
                entry.job.report(entry.timeline.progress(now), now)

    def replan(self, now: datetime) -> None:
        """Re-time unfinished jobs after the progression changed, keeping the share already done."""
        for entry in self._active.values():
            done = entry.timeline.progress(now) / 100 if entry.started else 0.0
            entry.timeline = plan(self._progression(), now, entry.job.size_gb, done)
            entry.generation += 1
            self._arm(entry)

    def _arm(self, entry: _Entry) -> None:
        generation = entry.generation
        if not entry.started:
            self._scheduler.at(entry.timeline.starts_at, lambda at: self._begin(entry, generation, at))
        self._scheduler.at(entry.timeline.ends_at, lambda at: self._end(entry, generation, at))

    def _begin(self, entry: _Entry, generation: int, at: datetime) -> None:
        if generation == entry.generation and not entry.started:
            entry.started = True
            entry.job.begin(at)

    def _end(self, entry: _Entry, generation: int, at: datetime) -> None:
        if generation != entry.generation or id(entry) not in self._active:
            return
        self._begin(entry, generation, at)
        del self._active[id(entry)]
        probability = self._progression().failure_probability
        failed = entry.job.may_fail and probability > 0 and self._rng.random() < probability
        entry.job.finish(at, failed)
