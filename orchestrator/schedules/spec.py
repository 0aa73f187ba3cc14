"""What a schedule is made of, as ``add`` takes it, checked before anything is stored: a unique name, an
RRULE in an IANA time zone from a start, and a ``fleet_backup`` command without its command id (each
occurrence gets one of its own, :func:`occurrence_command_id`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.messages import FleetBackupCommand, InvalidCommand, command_from_json
from orchestrator.schedules.rules import BadRule, check_occurs, zone

TEMPLATE_MAX_BYTES = 1024 * 1024  # a fleet listing its resources one by one, stored with the schedule
TEMPLATE_COMMAND_ID = "schedule-template"  # validates a template; never submitted
ScheduleName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class InvalidSchedule(Exception):
    """A schedule refused; ``reason`` and ``fields`` (location, message: never a value) are safe to show."""

    def __init__(self, reason: str, fields: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = list(fields)


class ScheduleSpec(BaseModel):
    """A schedule to add. ``start``: the RRULE's DTSTART (default: when it is added); a naive one is a wall
    time in ``time_zone``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ScheduleName
    rrule: str = Field(min_length=1, max_length=600, examples=["FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0"])
    time_zone: str = Field(default="UTC", min_length=1, max_length=64, examples=["Europe/Berlin"])
    start: datetime | None = None
    command: dict[str, Any] = Field(description="A fleet_backup command without command_id.")
    enabled: bool = True

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except BadRule as exc:
            raise ValueError(str(exc)) from None
        return value

    def start_instant(self, now: datetime) -> datetime:
        """DTSTART as an instant: ``start`` (a naive one read in the time zone) or ``now`` to the second."""
        if self.start is None:
            return now.replace(microsecond=0)
        if self.start.tzinfo is None:
            return self.start.replace(tzinfo=zone(self.time_zone)).astimezone(UTC)
        return self.start.astimezone(UTC)


def checked_spec(raw: object) -> ScheduleSpec:
    """``raw`` (decoded JSON) as a schedule whose command template is a valid fleet_backup command."""
    try:
        spec = ScheduleSpec.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSchedule("invalid: " + _summary(exc), _fields(exc)) from None
    return _checked_further(spec)


def checked_spec_json(body: bytes) -> ScheduleSpec:
    """:func:`checked_spec` for a JSON body, strictly typed (``true``, not ``"true"``), as the HTTP API
    describes it."""
    try:
        spec = ScheduleSpec.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise InvalidSchedule("invalid: " + _summary(exc), _fields(exc)) from None
    return _checked_further(spec)


def _checked_further(spec: ScheduleSpec) -> ScheduleSpec:
    """What a JSON Schema cannot say: the rule can be read, the command is a valid fleet_backup."""
    now = datetime.now(UTC)
    try:
        check_occurs(spec.rrule, spec.time_zone, spec.start_instant(now), now)
    except BadRule as exc:
        raise InvalidSchedule(f"invalid: rrule: {exc}", [("rrule", str(exc))]) from None
    template(spec)
    return spec


def template(spec: ScheduleSpec) -> dict[str, Any]:
    """The command template as stored: the fleet_backup command validated, without its command id."""
    raw = spec.command
    if "command_id" in raw:
        raise InvalidSchedule(
            "invalid: command.command_id: each occurrence gets its own; leave it out",
            [("command.command_id", "each occurrence gets its own; leave it out")],
        )
    if raw.get("kind", "fleet_backup") != "fleet_backup":
        raise InvalidSchedule(
            "invalid: command.kind: a schedule submits fleet_backup commands only",
            [("command.kind", "a schedule submits fleet_backup commands only")],
        )
    if len(json.dumps(raw)) > TEMPLATE_MAX_BYTES:
        raise InvalidSchedule(f"too large: a command template is at most {TEMPLATE_MAX_BYTES} bytes")
    command = _as_fleet({"kind": "fleet_backup", **raw, "command_id": TEMPLATE_COMMAND_ID})
    stored = command.model_dump(mode="json", exclude={"command_id"}, exclude_unset=True)
    return stored | {"kind": "fleet_backup"}


def occurrence_command(template: dict[str, Any], command_id: str) -> FleetBackupCommand:
    """The command an occurrence submits."""
    return _as_fleet({**template, "command_id": command_id})


def _as_fleet(raw: dict[str, Any]) -> FleetBackupCommand:
    try:
        command = command_from_json(raw)
    except InvalidCommand as exc:
        fields = [(_in_command(where), what) for where, what in exc.fields]
        reason = "; ".join(f"{where}: {what}" for where, what in fields[:5]) or exc.reason
        raise InvalidSchedule(f"invalid: {reason}"[:500], fields) from None
    if not isinstance(command, FleetBackupCommand):
        raise InvalidSchedule("invalid: command: a schedule submits fleet_backup commands only")
    return command


def occurrence_command_id(schedule_id: uuid.UUID, name: str, occurrence: datetime) -> str:
    """The command id of one occurrence of one schedule: the same pair always gives the same id (so a
    second scheduler, or a tick run again, submits a duplicate that starts nothing); readable in
    ``status``."""
    instant = occurrence.astimezone(UTC)
    digest = uuid.uuid5(schedule_id, instant.isoformat()).hex[:12]
    return f"schedule:{name}:{instant:%Y%m%dT%H%M%SZ}:{digest}"


def _in_command(where: str) -> str:
    """A location in the template (the command union's tag left out)."""
    return "command." + where.removeprefix("fleet_backup.").removeprefix("fleet_backup")


def _fields(exc: ValidationError) -> list[tuple[str, str]]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return [(".".join(str(p) for p in err["loc"]) or "<root>", err["msg"]) for err in errors[:50]]


def _summary(exc: ValidationError) -> str:
    return "; ".join(f"{where}: {what}" for where, what in _fields(exc)[:5])[:500]
