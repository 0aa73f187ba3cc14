"""``/v1/schedules``: scheduled fleets over HTTP, as ``cbr-orchestrator schedules`` manages them. Listing
needs the ``read`` scope, adding and removing the ``schedule`` scope; a key limited to some projects sees
and touches only the schedules whose command calls CBR in those projects."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel

from orchestrator.api.auth import not_found
from orchestrator.api.bodies import answer
from orchestrator.api.context import context_of
from orchestrator.api.keys import Grant
from orchestrator.api.problems import FieldProblem, Problem, ProblemError
from orchestrator.api.spec import Endpoint
from orchestrator.broker.acceptance import check_acceptable, projects_of
from orchestrator.broker.guard import decode_bounded
from orchestrator.messages import InvalidCommand
from orchestrator.schedules.catalog import (
    Removed,
    ScheduleTaken,
    ScheduleView,
    add_schedule,
    list_schedules,
    remove_schedule,
)
from orchestrator.schedules.spec import (
    TEMPLATE_COMMAND_ID,
    InvalidSchedule,
    ScheduleSpec,
    checked_spec_json,
    occurrence_command,
)


class SchedulesBody(BaseModel):
    schedules: list[ScheduleView]


async def get_schedules(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "read")
    shown = [s for s in await list_schedules(context.store) if _sees(grant, s.command)]
    return answer(SchedulesBody(schedules=shown))


async def add(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "schedule")
    body = await request.read()
    try:
        decode_bounded(body)  # bounded depth and numbers before pydantic reads it
        spec = await asyncio.to_thread(checked_spec_json, body)  # a rule's check may take a second
        command = occurrence_command(spec.command | {"kind": "fleet_backup"}, TEMPLATE_COMMAND_ID)
    except InvalidCommand as exc:
        raise ProblemError(400, "Bad Request", exc.reason) from None
    except InvalidSchedule as exc:
        errors = [FieldProblem(location=where, message=what) for where, what in exc.fields] or None
        raise ProblemError(422, "Unprocessable Content", exc.reason, errors=errors) from None
    if not all(grant.sees(project_id) for project_id, _ in projects_of(command)):
        raise not_found("project")
    try:
        check_acceptable(command, context.settings)
        added = await add_schedule(context.store, spec)
    except InvalidCommand as exc:
        raise ProblemError(422, "Unprocessable Content", exc.reason) from None
    except ScheduleTaken as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
    return answer(added, 201, {"Location": f"/v1/schedules/{added.name}"})


async def remove(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.grant(request, "schedule")
    name = request.match_info["name"]
    found = next((s for s in await list_schedules(context.store) if s.name == name), None)
    if found is None or not _sees(grant, found.command) or not await remove_schedule(context.store, name):
        raise not_found("schedule")
    return answer(Removed(name=name))


def _sees(grant: Grant, template: dict[str, object]) -> bool:
    try:
        command = occurrence_command(template, TEMPLATE_COMMAND_ID)
    except InvalidSchedule:  # stored before a stricter version: shown to keys of every project only
        return not grant.projects
    return all(grant.sees(project_id) for project_id, _ in projects_of(command))


PROBLEMS = dict.fromkeys((401, 403, 429), Problem)
ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/schedules",
        "listSchedules",
        "Every schedule of the key's projects: its rule, the next occurrence, what the last one did.",
        get_schedules,
        scope="read",
        responses={200: SchedulesBody, **PROBLEMS},
    ),
    Endpoint(
        "POST",
        "/v1/schedules",
        "addSchedule",
        "Add a schedule: a fleet_backup command (without command_id) submitted at each occurrence of an "
        "RRULE in a time zone, under a command id derived from the schedule and the occurrence.",
        add,
        scope="schedule",
        body=ScheduleSpec,
        responses={201: ScheduleView, **dict.fromkeys((400, 404, 409, 413, 422), Problem), **PROBLEMS},
    ),
    Endpoint(
        "DELETE",
        "/v1/schedules/{name}",
        "removeSchedule",
        "Remove a schedule: no more occurrences are submitted (its workflows go on).",
        remove,
        scope="schedule",
        responses={200: Removed, 404: Problem, **PROBLEMS},
    ),
]
