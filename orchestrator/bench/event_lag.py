"""How long after the last backup task ended the fleet's final event was written.

The task ends are the emulator's own (``ended_at`` of each backup in ``GET /_emulator/ledger``, on the
emulator's clock, UTC); the event's time is the ``time`` the worker gave it when it wrote the final
state. Both clocks are this machine's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def parse_utc(stamp: str) -> datetime:
    """An emulator stamp (naive, UTC) or an ISO time with its zone."""
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def last_task_end(backups: Iterable[dict[str, Any]]) -> datetime | None:
    """The latest ``ended_at`` of the ledger's backups (None: none ended)."""
    ends = [parse_utc(b["ended_at"]) for b in backups if b.get("ended_at")]
    return max(ends) if ends else None


def event_lag_seconds(last_end: datetime | None, final_event: dict[str, Any] | None) -> float | None:
    """Seconds from the last task's end to the final event's ``time`` (None: either is unknown)."""
    if last_end is None or final_event is None:
        return None
    return round((parse_utc(str(final_event["time"])) - last_end).total_seconds(), 3)
