"""Asynchronous work on the emulator's clock: a timer queue and the task state machine.

A task waits (``waiting_seconds``, then, for a project's backups under a capacity, for a free slot in
FIFO order), then runs ``base_seconds + size_gb / gb_per_second`` (:func:`task_seconds`) from its start,
then ends; ``instant`` progression ends it at the next tick. Every transition happens at its own
scheduled time, in time order, so a clock that jumps forward replays the same history a slowly moving
one would have.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from cbr_emulator.config import Progression

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

    def share_done(self, now: datetime) -> float:
        """The exact share of the work behind the task at ``now`` (0.0–1.0)."""
        if now >= self.ends_at:
            return 1.0
        if now <= self.starts_at:
            return 0.0
        return (now - self.starts_at) / (self.ends_at - self.starts_at)


def task_seconds(size_gb: float, progression: Progression) -> float:
    """How long a task runs once started: ``base_seconds + size_gb / gb_per_second`` (0 when instant).

    The time spent in ``waiting`` comes on top: ``waiting_seconds`` after submission, then, for backups
    under a per-project capacity, until a slot is free (see :class:`TaskRunner`).
    """
    if progression.instant:
        return 0.0
    return progression.base_seconds + size_gb / progression.gb_per_second


def plan(progression: Progression, queued_at: datetime, size_gb: float) -> Timeline:
    """When a task queued at ``queued_at`` starts and ends, given a free slot the moment it is ready."""
    if progression.instant:
        return Timeline(queued_at, queued_at, queued_at)
    starts_at = queued_at + timedelta(seconds=progression.waiting_seconds)
    return Timeline(queued_at, starts_at, starts_at + timedelta(seconds=task_seconds(size_gb, progression)))


def resumed(timeline: Timeline, progression: Progression, size_gb: float, now: datetime) -> Timeline:
    """A running task re-timed at ``now`` under ``progression``: its progress goes on from where it is."""
    done = timeline.share_done(now)
    total = timedelta(seconds=task_seconds(size_gb, progression))
    return Timeline(timeline.queued_at, now - total * done, now + total * (1.0 - done))


class Job(Protocol):
    """One unit of asynchronous work (one backup, restore, replication or deletion)."""

    @property
    def size_gb(self) -> float: ...

    @property
    def may_fail(self) -> bool: ...

    def begin(self, at: datetime) -> None: ...

    def report(self, progress: int, at: datetime) -> None: ...

    def finish(self, at: datetime, failed: bool) -> None: ...


Phase = Literal["waiting", "queued", "running"]  # queued: ready, waiting for a slot of its pool


@dataclass(eq=False)
class _Entry:
    job: Job
    pool: Hashable | None
    timeline: Timeline
    generation: int = 0
    phase: Phase = "waiting"


@dataclass
class PoolStats:
    """The jobs of one capacity pool (a project's backups): running, waiting, the most ever running."""

    running: int = 0
    waiting: int = 0
    peak_running: int = 0
    queue: deque[_Entry] = field(default_factory=deque)  # ready jobs waiting for a free slot, FIFO

    def describe(self) -> dict[str, int]:
        return {"running": self.running, "waiting": self.waiting, "peak_running": self.peak_running}


class TaskRunner:
    """Moves jobs through waiting → running → done on the scheduler's timeline.

    A job waits ``waiting_seconds`` after submission, then is *ready*. A job of a pool (the backups of
    one project) starts only while fewer than ``capacity()`` jobs of its pool run; otherwise it joins
    the pool's FIFO queue and starts the moment a slot frees. It then runs :func:`task_seconds`,
    counted from its start. A job without a pool starts as soon as it is ready. The work done is per
    job that changes state, never per job in existence; ``refresh`` walks the running jobs only.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        rng: random.Random,
        progression: Callable[[], Progression],
        capacity: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._scheduler = scheduler
        self._rng = rng
        self._progression = progression
        self._capacity = capacity
        self._active: dict[int, _Entry] = {}
        self._running: dict[int, _Entry] = {}
        self._pools: dict[Hashable, PoolStats] = {}

    def __len__(self) -> int:
        return len(self._active)

    @property
    def running(self) -> int:
        return len(self._running)

    def pool(self, key: Hashable) -> PoolStats:
        """The counts of one pool (all zero for a pool never used)."""
        return self._pools.get(key) or PoolStats()

    def reset_peaks(self) -> None:
        """Count the peak of every pool again from what runs now."""
        for stats in self._pools.values():
            stats.peak_running = stats.running

    def submit(self, job: Job, at: datetime, pool: Hashable | None = None) -> None:
        """Queue ``job`` at ``at``; ``pool`` names the capacity it counts against (None: unlimited)."""
        entry = _Entry(job, pool, plan(self._progression(), at, job.size_gb))
        self._active[id(entry)] = entry
        if pool is not None:
            self._pools.setdefault(pool, PoolStats()).waiting += 1
        self._arm_ready(entry)

    def refresh(self, now: datetime) -> None:
        """Bring the progress of every running job up to ``now``."""
        for entry in self._running.values():
            entry.job.report(entry.timeline.progress(now), now)

    def replan(self, now: datetime) -> None:
        """Re-time unfinished jobs after the progression changed, keeping the share already done.

        Running jobs go on from their share done; jobs in their ``waiting_seconds`` wait anew from
        ``now``; jobs queued for a slot stay in the queue.
        """
        progression = self._progression()
        for entry in self._active.values():
            if entry.phase == "queued":
                continue
            entry.generation += 1
            if entry.phase == "running":
                entry.timeline = resumed(entry.timeline, progression, entry.job.size_gb, now)
                self._arm_end(entry)
            else:
                entry.timeline = plan(progression, now, entry.job.size_gb)
                self._arm_ready(entry)

    def fill(self, now: datetime) -> None:
        """Start queued jobs of every pool while slots are free (after the capacity grew)."""
        for key in self._pools:
            self._fill(key, now)

    def _arm_ready(self, entry: _Entry) -> None:
        generation = entry.generation
        self._scheduler.at(entry.timeline.starts_at, lambda at: self._ready(entry, generation, at))

    def _arm_end(self, entry: _Entry) -> None:
        generation = entry.generation
        self._scheduler.at(entry.timeline.ends_at, lambda at: self._end(entry, generation, at))

    def _ready(self, entry: _Entry, generation: int, at: datetime) -> None:
        if generation != entry.generation or entry.phase != "waiting":
            return
        if entry.pool is None:
            self._start(entry, at)
            return
        entry.phase = "queued"
        self._pools[entry.pool].queue.append(entry)
        self._fill(entry.pool, at)

    def _fill(self, key: Hashable, at: datetime) -> None:
        stats, capacity = self._pools[key], self._capacity()
        while stats.queue and (capacity is None or stats.running < capacity):
            self._start(stats.queue.popleft(), at)

    def _start(self, entry: _Entry, at: datetime) -> None:
        """The job gets its slot at ``at`` and runs its whole duration from then."""
        run = timedelta(seconds=task_seconds(entry.job.size_gb, self._progression()))
        entry.timeline = Timeline(entry.timeline.queued_at, at, at + run)
        entry.phase = "running"
        self._running[id(entry)] = entry
        if entry.pool is not None:
            stats = self._pools[entry.pool]
            stats.waiting -= 1
            stats.running += 1
            stats.peak_running = max(stats.peak_running, stats.running)
        entry.job.begin(at)
        self._arm_end(entry)

    def _end(self, entry: _Entry, generation: int, at: datetime) -> None:
        if generation != entry.generation or id(entry) not in self._running:
            return
        del self._active[id(entry)]
        del self._running[id(entry)]
        probability = self._progression().failure_probability
        failed = entry.job.may_fail and probability > 0 and self._rng.random() < probability
        entry.job.finish(at, failed)
        if entry.pool is not None:
            self._pools[entry.pool].running -= 1
            self._fill(entry.pool, at)
