"""A new expiry date for every backup of a vault (``update_expiration_time``).

``expect_expiration_date`` (``YYYY-MM-DD``) is read in ``time_zone`` (``UTC+08:00``; offsets up to
±14:00): the vault's available backups (and their disk-level children) get ``expired_at`` at the start
of that day there, and retention deletes them then, as for any expired backup. The day must be later
than today in that zone (9900). The change is made at once and recorded as an operation log of type
``update_expiration_time`` that is already ``success``, with ``extra_info.update_expiration_time``
(``affected_backups_count``, ``expiration_day``); its id is the answer's ``operation_log_id``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from pydantic import field_validator

from cbr_emulator import operation_logs, retention
from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.validation import Body
from cbr_emulator.vaults import _vault_resource_type, find_vault

OFFSET = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")


def utc_offset(text: str) -> timezone:
    """``UTC+08:00`` → the fixed zone; ValueError beyond ±14:00 or with minutes over 59."""
    match = OFFSET.fullmatch(text)
    if match is None:
        raise ValueError("a time zone looks like UTC+08:00")
    hours, minutes = int(match.group(2)), int(match.group(3))
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise ValueError("a time zone is UTC-14:00 to UTC+14:00")
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


class UpdateExpirationTimeReq(Body):
    expect_expiration_date: str
    time_zone: str

    @field_validator("expect_expiration_date")
    @classmethod
    def _date(cls, value: str) -> str:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("a date looks like 2026-12-31")
        date.fromisoformat(value)  # ValueError for a day that does not exist
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        utc_offset(value)
        return value

    def expires_at(self) -> datetime:
        day = date.fromisoformat(self.expect_expiration_date)
        local = datetime(day.year, day.month, day.day, tzinfo=utc_offset(self.time_zone))
        return local.astimezone(UTC)


def update_expiration_time(call: Call) -> dict[str, Any]:
    vault = find_vault(call.project, call.path("vault_id"))
    request = call.body(UpdateExpirationTimeReq)
    expires_at = request.expires_at()
    zone = utc_offset(request.time_zone)
    if expires_at.astimezone(zone).date() <= call.now.astimezone(zone).date():
        raise CbrError.of("9900", "expect_expiration_date must be later than today in time_zone.")
    affected = [b for b in call.project.vault_backups(vault.id) if b.status == "available"]
    for backup in affected:
        for item in (backup, *backup.children):
            item.expired_at = expires_at
        retention.watch_expiry(call.world, call.project, backup)
    log = operation_logs.open_log(
        call.world,
        call.project,
        "update_expiration_time",
        call.now,
        resource={"id": vault.id, "type": _vault_resource_type(vault), "name": vault.name},
        vault=vault,
        provider_id=vault.provider_id,
        details={
            "update_expiration_time": {
                "affected_backups_count": len(affected),
                "expiration_day": request.expect_expiration_date,
            }
        },
    )
    operation_logs.succeed(call.project, log, call.now)
    return {
        "affected_backups_count": len(affected),
        "new_expiration_day": request.expect_expiration_date,
        "operation_log_id": log.id,
    }
