"""The emulator's notion of time: real time (optionally shifted) or a hand-driven clock for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Answers ``now()`` as an aware UTC datetime.

    ``manual=False`` follows the wall clock; ``advance`` then shifts it forward (an admin can jump
    ahead to see schedules fire). ``manual=True`` stands still until ``advance`` moves it; ``start``
    is its initial time (default: the current wall-clock time).
    """

    def __init__(self, manual: bool = False, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.manual = manual
        self._offset = timedelta(0)
        if start is not None and not manual:
            self._offset = start - datetime.now(UTC)
        self._fixed = (start or datetime.now(UTC)).astimezone(UTC)

    def now(self) -> datetime:
        if self.manual:
            return self._fixed
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` (never backward) and answer the new time."""
        if seconds < 0:
            raise ValueError("the emulator's clock cannot go backwards")
        step = timedelta(seconds=seconds)
        if self.manual:
            self._fixed += step
        else:
            self._offset += step
        return self.now()


def stamp(moment: datetime) -> str:
    """Object timestamps (``created_at`` …): ``2020-02-05T10:38:34.209782``, UTC, no suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def stamp_optional(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


def policy_stamp(moment: datetime) -> str:
    """A policy trigger's ``start_time``: ``2020-01-08 09:59:49``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_filter_time(text: str) -> datetime | None:
    """A ``start_time``/``end_time`` query filter (``2018-02-01T12:00:00Z``); None when malformed."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1]
    for shape in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(candidate, shape).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
