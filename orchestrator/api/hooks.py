"""``POST /v1/hooks/{name}``: a webhook delivery to a named trigger starts the job the trigger names.

No API key: the trigger's verifier is the authentication, and it checks the raw body before anything
parses it. A delivery that passes becomes a command as the queue's are (validated, credentials and
callback host checked) and the same workflow a queue message with its command id would be; the command
id comes from the delivery id, so a sender's retry finds the workflow its first attempt made.

Each trigger has a budget of verified deliveries (``api.hook_rate``, shared by every API process); beyond
it the answer is 429 with ``Retry-After``, which senders retry. Unverified deliveries are not counted, so
that nobody without the secret can spend a trigger's budget and lock its real sender out.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import jmespath.exceptions
from aiohttp import web
from pydantic import BaseModel

from orchestrator.api.commands import committed
from orchestrator.api.context import ApiContext, context_of
from orchestrator.api.problems import Problem, ProblemError
from orchestrator.api.spec import Endpoint
from orchestrator.api.triggers import Trigger
from orchestrator.api.verifiers import NotVerified, verify
from orchestrator.broker.acceptance import check_acceptable
from orchestrator.broker.guard import decode_bounded
from orchestrator.messages import AnyCommand, InvalidCommand, command_from_json
from orchestrator.store import Verdict

SIGNATURE_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
    "X-GitHub-Event",
    "X-Gitlab-Token",
    "X-Gitlab-Event-UUID",
)


class HookAnswer(BaseModel):
    status: Literal["accepted", "ignored"]
    workflow_id: uuid.UUID | None = None
    command_id: str | None = None
    duplicate: bool | None = None


async def hook(request: web.Request) -> web.Response:
    context = context_of(request)
    trigger = _trigger(context, request.match_info["name"])
    body = await _body(request, context.settings.api.max_body_bytes)
    try:
        delivery = verify(trigger.spec.verifier, trigger.secrets, request.headers, body)
    except NotVerified as exc:
        raise ProblemError(401, "Unauthorized", f"the delivery is not verified: {exc}") from None
    name = request.match_info["name"]
    await context.hook_budgets.spend(name, f"the trigger {name!r}")  # verified deliveries only: see below
    raw = _command_for(trigger, delivery.delivery_id, request, _payload(body))
    if raw is None:
        return _answer(HookAnswer(status="ignored"))
    command = _accepted(raw, context)
    verdict = await committed(command, context, request)
    if verdict.verdict is Verdict.CONFLICT:
        raise ProblemError(409, "Conflict", "this delivery id already started a different command")
    answer = HookAnswer(
        status="accepted",
        workflow_id=verdict.workflow_id,
        command_id=command.command_id,
        duplicate=verdict.verdict is Verdict.DUPLICATE,
    )
    return _answer(answer)


def _trigger(context: ApiContext, name: str) -> Trigger:
    trigger = context.triggers.get(name)
    if trigger is None:
        raise ProblemError(404, "Not Found", "no trigger of that name")
    return trigger


async def _body(request: web.Request, limit: int) -> bytes:
    """The raw body, read no further than ``limit`` bytes (413 beyond, whatever Content-Length says)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return body


def _payload(body: bytes) -> Any:
    try:
        return decode_bounded(body)
    except InvalidCommand as exc:
        raise ProblemError(400, "Bad Request", f"the body is not usable JSON ({exc.reason})") from None


def _command_for(
    trigger: Trigger, delivery_id: str, request: web.Request, payload: Any
) -> dict[str, Any] | None:
    try:
        return trigger.command_for(delivery_id, request.headers, payload)
    except jmespath.exceptions.JMESPathError as exc:
        detail = f"the trigger's expressions fail on this payload ({type(exc).__name__})"
        raise ProblemError(422, "Unprocessable Content", detail) from None


def _accepted(raw: dict[str, Any], context: ApiContext) -> AnyCommand:
    try:
        command = command_from_json(raw)
        check_acceptable(command, context.settings)
    except InvalidCommand as exc:
        raise ProblemError(422, "Unprocessable Content", f"the trigger's command is {exc.reason}") from None
    return command


def _answer(answer: HookAnswer) -> web.Response:
    return web.json_response(answer.model_dump(mode="json", exclude_none=True), status=202)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/hooks/{name}",
        "runHook",
        "A webhook delivery to a named trigger: verified by its signature, then filtered, then started.",
        hook,
        responses={
            202: HookAnswer,
            400: Problem,
            401: Problem,
            404: Problem,
            409: Problem,
            413: Problem,
            422: Problem,
            429: Problem,
        },
        headers=dict.fromkeys(SIGNATURE_HEADERS),
    ),
]
