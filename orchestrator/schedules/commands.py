"""``schedule_add`` and ``schedule_remove``: schedules managed by commands on the queue, as other systems
send backups. Intake hands them here (they start no workflow): applied at once, acked, and refused as any
command is (dead-lettered with the reason, recorded under the command id).

At least once: a ``schedule_add`` delivered again finds its schedule there, the same, and is done; a
``schedule_remove`` of a schedule already gone is done too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from orchestrator.broker.acceptance import check_acceptable
from orchestrator.config import Settings
from orchestrator.messages import COMMAND_VERSION, Id, InvalidCommand, command_id_in
from orchestrator.schedules.catalog import ScheduleTaken, add_schedule, find_schedule, remove_schedule
from orchestrator.schedules.spec import (
    TEMPLATE_COMMAND_ID,
    InvalidSchedule,
    ScheduleName,
    ScheduleSpec,
    checked_spec,
    occurrence_command,
    template,
)
from orchestrator.store import Store

log = logging.getLogger(__name__)
SCHEDULE_KINDS = ("schedule_add", "schedule_remove")


class _ScheduleCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    command_id: Id


class ScheduleAddCommand(_ScheduleCommand):
    kind: Literal["schedule_add"] = "schedule_add"
    schedule: dict[str, Any] = Field(description="A schedule as POST /v1/schedules takes it.")


class ScheduleRemoveCommand(_ScheduleCommand):
    kind: Literal["schedule_remove"] = "schedule_remove"
    name: ScheduleName


ScheduleCommand = Annotated[ScheduleAddCommand | ScheduleRemoveCommand, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[ScheduleAddCommand | ScheduleRemoveCommand] = TypeAdapter(ScheduleCommand)


class ScheduleCommands:
    """What intake calls with a decoded ``schedule_*`` command."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    async def handle(self, raw: dict[str, Any]) -> str:
        """Apply the command; what was done (for the log), or :class:`InvalidCommand` with the reason."""
        command_id = command_id_in(raw)
        if raw.get("version", COMMAND_VERSION) != COMMAND_VERSION:
            raise InvalidCommand(f"unsupported version, expected {COMMAND_VERSION}", command_id)
        try:
            command = _ADAPTER.validate_python(raw)
        except ValidationError as exc:
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            raise InvalidCommand(f"invalid: {where}"[:500], command_id) from None
        if isinstance(command, ScheduleRemoveCommand):
            removed = await remove_schedule(self._store, command.name)
            return f"schedule {command.name} {'removed' if removed else 'was not there'}"
        return await self._add(command)

    async def _add(self, command: ScheduleAddCommand) -> str:
        try:
            spec = await asyncio.to_thread(checked_spec, command.schedule)  # a rule's check: up to a second
            check_acceptable(occurrence_command(template(spec), TEMPLATE_COMMAND_ID), self._settings)
        except InvalidSchedule as exc:
            raise InvalidCommand(
                exc.reason.replace("invalid: ", "invalid: schedule.", 1), command.command_id
            ) from None
        except InvalidCommand as exc:
            raise InvalidCommand(exc.reason, command.command_id) from None
        try:
            await add_schedule(self._store, spec)
        except ScheduleTaken as exc:
            if not await self._same_there(spec):
                raise InvalidCommand(f"refused: {exc}", command.command_id) from None
            return f"schedule {spec.name} was there already"
        return f"schedule {spec.name} added"

    async def _same_there(self, spec: ScheduleSpec) -> bool:
        """The schedule named so is this one (the command delivered again)."""
        found = await find_schedule(self._store, spec.name)
        if found is None:
            return False
        same_start = spec.start is None or spec.start_instant(found.start) == found.start
        return (found.rrule, found.time_zone, found.enabled, found.command, same_start) == (
            spec.rrule.strip(),
            spec.time_zone,
            spec.enabled,
            template(spec),
            True,
        )
