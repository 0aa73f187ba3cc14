"""When to look at a project's backup tasks again: soon when some should be ending, rarely when none are.

:class:`TickPolicy` is a pure value object: given what the last listing showed (tasks that ended, and
when the running ones are expected to end), it names the delay until the next listing. The expected end
of a running task comes from the progress CBR reports for it (:func:`expected_remaining`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TickPolicy:
    min_seconds: float = 5.0
    max_seconds: float = 60.0
    growth: float = 2.0

    def next_delay(self, previous: float | None, due_in: Iterable[float | None], ended: int) -> float:
        """Delay until the next listing.

        ``previous``: the last delay (None before the first); ``due_in``: seconds until each running task
        is expected to end (None: no estimate yet); ``ended``: tasks the last listing saw end.
        Something ended → the minimum (more of the same batch usually follows). Else the soonest expected
        end, within the bounds. Else (nothing known to be due) the previous delay grown, up to the maximum.
        """
        if ended:
            return self.min_seconds
        estimates = [d for d in due_in if d is not None]
        if estimates:
            return self._bounded(min(estimates))
        if previous is None:
            return self.min_seconds
        return self._bounded(previous * self.growth)

    def _bounded(self, seconds: float) -> float:
        return min(self.max_seconds, max(self.min_seconds, seconds))

    @classmethod
    def around(cls, poll_seconds: float) -> TickPolicy:
        """The policy for a configured status poll interval: from it up to twelve times it."""
        return cls(min_seconds=poll_seconds, max_seconds=12 * poll_seconds)


def expected_remaining(progress: int | None, elapsed_seconds: float | None) -> float | None:
    """Seconds a task still needs at its rate so far; None without a usable progress report."""
    if progress is None or elapsed_seconds is None or elapsed_seconds < 0 or not progress > 0:
        return None
    if progress >= 100:
        return 0.0
    return elapsed_seconds * (100 - progress) / progress
