"""What the schedule tests share: a fleet command template for the emulator's default tenant, a clock the
test moves, and the workflows a schedule made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from cbr_emulator.config import DEFAULT_TENANT

FLEET: dict[str, Any] = {
    "kind": "fleet_backup",
    "project_id": DEFAULT_TENANT.project_id,
    "region": DEFAULT_TENANT.region,
    "select": {"protectables": {"types": ["server"]}},
}


def schedule(name: str, rrule: str, start: datetime, **over: Any) -> dict[str, Any]:
    raw = {"name": name, "rrule": rrule, "time_zone": "UTC", "start": start.isoformat(), "command": FLEET}
    return raw | over


def second_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Clock:
    """The scheduler's clock, moved by the test."""

    now: datetime = field(default_factory=second_now)

    def __call__(self) -> datetime:
        return self.now

    def at(self, instant: datetime) -> Clock:
        self.now = instant
        return self

    def plus(self, seconds: float) -> Clock:
        self.now += timedelta(seconds=seconds)
        return self


async def scheduled_commands(dsn: str, name: str) -> list[str]:
    """The command ids of the workflows schedule ``name`` made, in order (one per occurrence run)."""
    conn = await asyncpg.connect(dsn)
    try:
        query = "SELECT command_id FROM workflows WHERE command_id LIKE $1 ORDER BY command_id"
        rows = await conn.fetch(query, f"schedule:{name}:%")
    finally:
        await conn.close()
    return [r["command_id"] for r in rows]


def occurrence_of(command_id: str) -> datetime:
    """The occurrence a derived command id names (``schedule:<name>:<YYYYmmddTHHMMSSZ>:<digest>``)."""
    stamp = command_id.split(":")[2]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
