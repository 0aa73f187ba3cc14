"""The shortest wall time a fleet of backups can take on the emulator, from its duration model.

A backup task waits ``waiting_seconds``, then needs one of the project's ``backup_capacity`` slots
(FIFO), then runs :func:`~cbr_emulator.progression.task_seconds` of its stored size. A
benchmark compares its measured wall time with these figures. For tasks of equal duration ``d`` all
submitted at once, both equal ``waiting_seconds + ceil(T / C) * d``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from cbr_emulator.config import Progression
from cbr_emulator.progression import task_seconds


def fifo_wall_seconds(sizes_gb: Sequence[float], progression: Progression, capacity: int | None) -> float:
    """Seconds from submitting every task at once, in this order, to the end of the last one."""
    if not sizes_gb:
        return 0.0
    slots = len(sizes_gb) if capacity is None else capacity
    free_at = [0.0] * min(slots, len(sizes_gb))  # when each slot frees, relative to the first start
    for size in sizes_gb:
        start = heapq.heappop(free_at)
        heapq.heappush(free_at, start + task_seconds(size, progression))
    return _waiting(progression) + max(free_at)


def lower_bound_seconds(sizes_gb: Sequence[float], progression: Progression, capacity: int | None) -> float:
    """No order of submission can finish sooner: the longest task, or all work spread over every slot."""
    if not sizes_gb:
        return 0.0
    durations = [task_seconds(size, progression) for size in sizes_gb]
    spread = sum(durations) / (len(durations) if capacity is None else min(capacity, len(durations)))
    return _waiting(progression) + max(max(durations), spread)


def _waiting(progression: Progression) -> float:
    return 0.0 if progression.instant else progression.waiting_seconds
