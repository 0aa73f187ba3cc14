"""When each checkpoint's backup tasks should all have ended, from one listing of a project's unfinished
tasks: a model of the project's queue, good enough to say when a look is worth making (never what ended).

The running tasks end as their progress says so far. Waiting tasks start in the order they were created,
each in the place of the running task that ends first, and then run as long as the running ones take in
all. A running task without an estimate yet (no progress) counts as ending ``unknown_seconds`` from now.
Without a running task there is nothing to measure the queue by: no estimate (None).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from datetime import datetime

from orchestrator.polling.models import PolledTask
from orchestrator.polling.tick import expected_remaining


def checkpoint_ends(
    tasks: Mapping[str, Sequence[PolledTask]], unknown_seconds: float
) -> dict[str, float | None]:
    """Seconds from the listing until each checkpoint's last listed task should end."""
    running = [t for listed in tasks.values() for t in listed if t.status == "running"]
    if not running:
        return dict.fromkeys(tasks)
    left = [_left(t, unknown_seconds) for t in running]
    lasting = max((d for t in running if (d := duration(t)) is not None), default=unknown_seconds)
    ends = {t.id: s for t, s in zip(running, left, strict=True)}
    slots = sorted(left)  # when each running place frees, soonest first
    for task in sorted((t for ts in tasks.values() for t in ts if t.status != "running"), key=_created):
        start = heapq.heappop(slots)
        ends[task.id] = start + lasting
        heapq.heappush(slots, ends[task.id])
    return {checkpoint: max(ends[t.id] for t in listed) for checkpoint, listed in tasks.items() if listed}


def duration(task: PolledTask) -> float | None:
    """Seconds the task takes in all, at its rate so far."""
    ran = elapsed(task)
    if ran is None or task.progress is None or task.progress <= 0 or ran <= 0:
        return None
    return ran * 100 / task.progress


def elapsed(task: PolledTask) -> float | None:
    """Seconds the task ran until its last update, on the cloud's own clock."""
    try:
        started = datetime.fromisoformat((task.started_at or "").replace("Z", "+00:00"))
        updated = datetime.fromisoformat((task.updated_at or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return (updated - started).total_seconds()


def _left(task: PolledTask, unknown_seconds: float) -> float:
    left = expected_remaining(task.progress, elapsed(task))
    return unknown_seconds if left is None else left


def _created(task: PolledTask) -> str:
    return task.created_at or ""
