"""Checkpoints whose workflows sleep until their backup tasks end, and when to look at them.

:class:`TaskWatch` is pure bookkeeping (no I/O, a monotonic clock passed in). The poller tells it of every
listing of a project's unfinished backup tasks (its own and the status polls'); from the tasks' progress it
learns when each watched checkpoint's last task should end, and so when the project is next worth a look.
A watched checkpoint that a listing covering it shows without any unfinished task has ended: its workflow
is handed back to be woken, once, and is no longer watched (its next poll watches it again if need be).

A checkpoint never seen with a task (just created, or ended before any look) is looked at again soon,
then less often, and woken after ``MISSES_TO_WAKE`` looks: its poll settles what happened. When its tasks
should end comes from a model of the project's queue (:mod:`~orchestrator.polling.task_queue`); with nothing
running to measure it by, the project is looked at every ``idle_look`` seconds. The watch does not count on
the workflows' timed polls (they feed it too): a watched workflow's timed poll is only the safety net.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from orchestrator.polling.models import PolledTask
from orchestrator.polling.task_queue import checkpoint_ends

ProjectKey = tuple[str, str]  # project, region
LOOK_SOON = 1.0  # seconds: a checkpoint without an estimate yet (just created, progress 0) is looked at again
MIN_GAP = 1.0  # seconds between two looks at one project
LATE = 0.2  # looked at this long after an expected end: progress reports are rounded
MISSES_TO_WAKE = 2


@dataclass
class Watched:
    workflow_id: uuid.UUID
    start: datetime  # a listing from here on (cloud clock) shows the checkpoint's tasks
    due_at: float  # monotonic: when to look next
    seen: bool = False  # a listing showed an unfinished task of it
    misses: int = 0  # looks that showed no task of it, before any was seen


class TaskWatch:
    def __init__(self, idle_look: float = 5.0) -> None:
        self._idle_look = idle_look  # seconds between looks at a project where nothing runs (no estimate)
        self._projects: dict[ProjectKey, dict[str, Watched]] = {}
        self._looked_at: dict[ProjectKey, float] = {}
        self._ends: dict[ProjectKey, dict[str, float | None]] = {}  # from the last listing, by checkpoint
        self._watchers: Counter[tuple[ProjectKey, uuid.UUID]] = Counter()  # checkpoints watched per workflow

    def add(
        self, key: ProjectKey, checkpoint_id: str, workflow_id: uuid.UUID, start: datetime, now: float
    ) -> None:
        """Watch a checkpoint (again): seen unfinished when the last listing showed a task of it."""
        self.drop(key, checkpoint_id)
        ends = self._ends.get(key, {})
        seen = checkpoint_id in ends
        due = self._due(ends[checkpoint_id], now) if seen else now + LOOK_SOON
        self._projects.setdefault(key, {})[checkpoint_id] = Watched(workflow_id, start, due, seen)
        self._watchers[key, workflow_id] += 1

    def wakes(self, key: ProjectKey, workflow_id: uuid.UUID) -> bool:
        """Whether a checkpoint of the workflow is watched: the watch wakes it when its tasks end."""
        return self._watchers[key, workflow_id] > 0

    def workflows(self) -> set[uuid.UUID]:
        """Every workflow a checkpoint of which is watched."""
        return {workflow_id for _, workflow_id in self._watchers}

    def drop(self, key: ProjectKey, checkpoint_id: str) -> None:
        watched = self._projects.get(key)
        if watched is None or checkpoint_id not in watched:
            return
        workflow_id = watched.pop(checkpoint_id).workflow_id
        self._watchers[key, workflow_id] -= 1
        if not self._watchers[key, workflow_id]:
            del self._watchers[key, workflow_id]
        if not watched:
            del self._projects[key]

    def watching(self, key: ProjectKey) -> set[str]:
        return set(self._projects.get(key, {}))

    def start(self, key: ProjectKey) -> datetime:
        """Where a listing covering every watched checkpoint of the project starts."""
        return min(w.start for w in self._projects[key].values())

    def due(self, now: float) -> list[ProjectKey]:
        """Projects worth a look now."""
        return [key for key in self._projects if (at := self._next_look(key)) is not None and at <= now]

    def next_in(self, now: float) -> float | None:
        """Seconds until the next project is worth a look; None: none is."""
        looks = [at for key in self._projects if (at := self._next_look(key)) is not None]
        return max(0.0, min(looks) - now) if looks else None

    def listed(
        self, key: ProjectKey, tasks: Mapping[str, Sequence[PolledTask]], start: datetime, now: float
    ) -> list[uuid.UUID]:
        """A listing of the project's unfinished tasks from ``start``: the workflows to wake (their
        checkpoints ended), no longer watched; the others' next looks from their tasks."""
        self._looked_at[key] = now
        self._ends[key] = {
            c: None if left is None else now + left for c, left in checkpoint_ends(tasks, LOOK_SOON).items()
        }
        woken: list[uuid.UUID] = []
        for checkpoint_id, watched in list(self._projects.get(key, {}).items()):
            if watched.start < start:
                continue  # the listing may have missed its tasks
            if tasks.get(checkpoint_id):
                watched.seen, watched.due_at = True, self._due(self._ends[key][checkpoint_id], now)
            elif watched.seen or watched.misses + 1 >= MISSES_TO_WAKE:
                woken.append(watched.workflow_id)
                self.drop(key, checkpoint_id)
            else:
                watched.misses += 1
                watched.due_at = now + LOOK_SOON * 2**watched.misses
        return woken

    def failed(self, key: ProjectKey, now: float) -> None:
        """A look that could not be made: the next one not before ``LOOK_SOON``."""
        self._looked_at[key] = now + LOOK_SOON - MIN_GAP

    def _due(self, end: float | None, now: float) -> float:
        return now + self._idle_look if end is None else end

    def _next_look(self, key: ProjectKey) -> float | None:
        dues = [w.due_at for w in self._projects.get(key, {}).values()]
        if not dues:
            return None
        return max(min(dues) + LATE, self._looked_at.get(key, 0.0) + MIN_GAP)
