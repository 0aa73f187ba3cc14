"""``POST /v1/commands``: a command as the queue takes it, parsed in the broker's guard and committed as
intake commits it, so that the same command id arriving here and on the queue names one workflow.

With an ``Idempotency-Key`` (per API key) a retry gets the first answer again; the same key with another
body is a 422, and while the first request is still being accepted a 409.
"""

from __future__ import annotations

import hashlib
import json
import re

from aiohttp import web
from pydantic import TypeAdapter

from orchestrator.api.auth import not_found, require
from orchestrator.api.bodies import Accepted, answer
from orchestrator.api.context import ApiContext, context_of
from orchestrator.api.keys import SCOPE_OF_KIND, Grant
from orchestrator.api.problems import FieldProblem, Problem, ProblemError
from orchestrator.api.spec import BY_KIND, Endpoint
from orchestrator.broker.acceptance import check_acceptable, projects_of
from orchestrator.broker.guard import SizeLimits, parse_guarded
from orchestrator.broker.intake import new_workflow
from orchestrator.messages import AnyCommand, Command, InvalidCommand
from orchestrator.observability import log_context, tracing
from orchestrator.observability.tracing import TRACEPARENT
from orchestrator.store import CommandVerdict, Verdict
from orchestrator.store.idempotency import Begun

IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def submit(request: web.Request) -> web.Response:
    context = context_of(request)
    grant = await context.keys.authenticate(request)
    await context.keys.spend(grant)
    command = _parse(await request.read(), context)
    require(grant, SCOPE_OF_KIND[command.kind])
    _check_projects(command, grant, context)
    presented = request.headers.get(IDEMPOTENCY_KEY)
    if presented is None:
        return await _accept(command, context, request)
    return await _accept_once(command, context, request, grant, _idempotency_key(presented))


def _parse(body: bytes, context: ApiContext) -> AnyCommand:
    try:
        return parse_guarded(body, SizeLimits.of(context.settings.worker))
    except InvalidCommand as exc:
        raise _refusal(exc) from None


def _refusal(exc: InvalidCommand) -> ProblemError:
    if exc.reason.startswith("too large"):
        return ProblemError(413, "Content Too Large", exc.reason)
    if exc.reason.startswith("malformed"):
        return ProblemError(400, "Bad Request", exc.reason)
    errors = [FieldProblem(location=where, message=what) for where, what in exc.fields] or None
    return ProblemError(422, "Unprocessable Content", exc.reason, errors=errors)


def _check_projects(command: AnyCommand, grant: Grant, context: ApiContext) -> None:
    """Every (project, region) the command calls CBR in is the key's (404 if not); then what intake also
    checks (credentials, the callback host) holds."""
    for project_id, _ in projects_of(command):
        if not grant.sees(project_id):
            raise not_found("project")
    try:
        check_acceptable(command, context.settings)
    except InvalidCommand as exc:
        raise ProblemError(422, "Unprocessable Content", exc.reason) from None


def _idempotency_key(presented: str) -> str:
    if not _IDEMPOTENCY_KEY.match(presented):
        raise ProblemError(400, "Bad Request", f"an {IDEMPOTENCY_KEY} is 1 to 255 visible ASCII characters")
    return presented


async def committed(command: AnyCommand, context: ApiContext, request: web.Request) -> CommandVerdict:
    """Commit the command's workflow as intake does; it continues the trace of the request's
    ``traceparent`` header, if any."""
    incoming = request.headers.get(TRACEPARENT)
    with (
        log_context.bound(command_id=command.command_id, kind=command.kind, project=command.project_id),
        tracing.command_span("command accept", incoming, command_id=command.command_id) as traceparent,
    ):
        [verdict] = await context.store.create_workflows_if_absent([new_workflow(command, traceparent)])
    return verdict


async def _accept(command: AnyCommand, context: ApiContext, request: web.Request) -> web.Response:
    verdict = await committed(command, context, request)
    if verdict.verdict is Verdict.CONFLICT:
        raise ProblemError(
            409, "Conflict", f"command id {command.command_id} already names a different command"
        )
    duplicate = verdict.verdict is Verdict.DUPLICATE
    status = "pending"
    if duplicate:
        found = await context.store.status.find(str(verdict.workflow_id))
        status = found.status.value if found is not None else status
    body = Accepted(
        workflow_id=verdict.workflow_id, command_id=command.command_id, status=status, duplicate=duplicate
    )
    return answer(body, 202, {"Location": f"/v1/workflows/{verdict.workflow_id}"})


async def _accept_once(
    command: AnyCommand, context: ApiContext, request: web.Request, grant: Grant, key: str
) -> web.Response:
    records = context.store.idempotency
    begun = await records.begin(grant.key_id, key, _fingerprint(command))
    if begun.verdict is Begun.REPLAY and begun.answer is not None:
        stored = begun.answer
        headers = {"Location": stored.location} if stored.location else None
        return web.json_response(stored.body, status=stored.status, headers=headers)
    if begun.verdict is Begun.OTHER_BODY:
        raise ProblemError(422, "Unprocessable Content", f"this {IDEMPOTENCY_KEY} was used with another body")
    if begun.verdict is Begun.IN_PROGRESS:
        detail = f"the first request with this {IDEMPOTENCY_KEY} is still being accepted"
        raise ProblemError(409, "Conflict", detail, headers={"Retry-After": "1"})
    try:
        response = await _accept(command, context, request)
    except BaseException:
        await records.abandon(grant.key_id, key)
        raise
    body = json.loads(response.text or "{}")
    await records.complete(grant.key_id, key, response.status, body, response.headers.get("Location"))
    return response


def _fingerprint(command: AnyCommand) -> bytes:
    canonical = json.dumps(command.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


COMMAND_PROBLEMS = dict.fromkeys((400, 401, 403, 404, 409, 413, 422, 429), Problem)
ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/commands",
        "submitCommand",
        "Start a backup, restore, replication or fleet backup (the queue's command schemas); the scope is "
        "the command kind's.",
        submit,
        scope=BY_KIND,
        body=TypeAdapter(Command),
        responses={202: Accepted, **COMMAND_PROBLEMS},
        headers={IDEMPOTENCY_KEY: IDEMPOTENCY_KEY_PATTERN},
    ),
]
