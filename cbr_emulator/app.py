"""The emulator's aiohttp application: CBR v3 API, IAM tokens and the admin API on one server.

A CBR request goes through, in order:

1. routing over every SDK operation, project- or domain-scoped (404 / 405 ``APIGW.0101``); an
   operation the domain does not implement still routes, and the domain answers 404 ``APIGW.0101`` as
   the gateway does for an API it does not publish (a 5xx would make clients that retry 5xx loop);
2. reading the body, at most ``max_body_bytes`` (400 ``BackupService.9900`` "too large" — chosen over
   413 so that every bad request is one CBR code);
3. authentication (401 ``APIGW.0301``) and project authorisation (403 ``APIGW.0302``, also when an
   ``X-Project-Id`` header names another project than the path); the region is the one of the tenant
   owning the project id (for a domain-scoped call, see ``domain_scope``);
4. counting; the per-project rate limit (429 ``APIG.0308`` + ``Retry-After``);
5. content type and JSON parsing (400 ``BackupService.9900``);
6. injected faults (latency, throttle, error), then the domain (``tick`` then ``handle``); with an
   execute-then-time-out fault the connection is then held and closed without an answer, and with an
   execute-then-answer-an-error fault the domain's answer is replaced by the fault's gateway error.

Every response carries ``X-Request-Id`` (32 hex digits). An unexpected exception is a bug: it is
logged (never with headers or bodies) and answered with 500 ``BackupService.9910``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from cbr_emulator.admin import admin_routes
from cbr_emulator.auth import Authenticator, Identity, SignedParts, check_project_header
from cbr_emulator.body import check_content_type, parse_json, read_body
from cbr_emulator.config import EmulatorConfig, Tenant
from cbr_emulator.counters import UNROUTED, Counters
from cbr_emulator.domain_scope import scope_project
from cbr_emulator.errors import CbrError
from cbr_emulator.faults import FaultDecision, Faults
from cbr_emulator.gateway import GatewayError
from cbr_emulator.iam import IAM, Iam, IamError, iam_routes
from cbr_emulator.keys import (
    AUTHENTICATOR,
    CLOCK,
    CLOSING,
    COUNTERS,
    DOMAIN,
    FAULTS,
    RATE_LIMITER,
    ROUTES,
    SETTINGS,
    TENANTS,
    Domain,
    EmulatorClock,
    HttpSettings,
)
from cbr_emulator.operation import OperationRequest, OperationResponse
from cbr_emulator.rate_limit import RateLimit, RateLimiter
from cbr_emulator.routes import RouteMatch, RouteTable
from cbr_emulator.tenants import TenantDirectory
from orchestrator.cbr.signing import parse_raw_query

log = logging.getLogger("cbr_emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_RESPONSE = web.RequestKey("cbr_no_response", bool)
OPERATION = web.RequestKey("cbr_operation", str)  # the SDK operation the route names, once matched
ADMIN_PREFIX = "/_emulator/"
IAM_PATHS = ("/v3/auth/tokens", "/v3/auth/projects", "/v3/projects")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _error_response(exc: Exception, request_id: str) -> web.StreamResponse:
    if isinstance(exc, GatewayError):
        return _json(exc.status, exc.body(request_id), exc.headers)
    if isinstance(exc, CbrError | IamError):
        return _json(exc.status, exc.body())
    if isinstance(exc, web.HTTPException):
        return _json(
            exc.status, {"error_code": "APIGW.0101", "error_msg": exc.reason, "request_id": request_id}
        )
    return _json(500, CbrError(500, "BackupService.9910", "Unknown error.").body())


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id on every answer; known errors to their JSON bodies; anything else is a logged bug."""
    request_id = uuid.uuid4().hex
    started = time.perf_counter()
    try:
        response = await handler(request)
    except (GatewayError, CbrError, IamError, web.HTTPException) as exc:
        response = _error_response(exc, request_id)
    except ConnectionError:  # the client went away while sending its body
        log.info("%s %s: connection lost while reading the request", request.method, request.path)
        response = _error_response(CbrError.of("9900", "The request is incomplete."), request_id)
    except Exception as exc:
        log.exception("bug: %s %s failed unexpectedly (request %s)", request.method, request.path, request_id)
        response = _error_response(exc, request_id)
    response.headers["X-Request-Id"] = request_id
    if not request.path.startswith((ADMIN_PREFIX, *IAM_PATHS)):
        status = "no_response" if request.get(NO_RESPONSE) else str(response.status)
        counters = request.app[COUNTERS]
        counters.record_status(status, request.get(OPERATION, UNROUTED))
        counters.record_latency(time.perf_counter() - started)
    return response


def _authenticate(request: web.Request, raw: bytes) -> Identity:
    raw_path, _, raw_query = request.raw_path.partition("?")
    parts = SignedParts(request.method, raw_path, raw_query, request.headers, raw)
    try:
        return request.app[AUTHENTICATOR].authenticate(parts)
    except GatewayError:
        request.app[COUNTERS].record_auth_failure()
        raise


def _tenant(request: web.Request, identity: Identity, match: RouteMatch) -> Tenant:
    project_id = match.project_id or ""
    if not match.route.project_scoped:
        project_id = scope_project(identity, match, request.headers, request.app[TENANTS])
    identity.authorize(project_id)
    check_project_header(request.headers, project_id)
    tenant = request.app[TENANTS].tenant(project_id)
    if tenant is None:  # an identity only holds configured projects; kept as a guard
        raise GatewayError.forbidden(project_id)
    return tenant


def _throttle(request: web.Request, tenant: Tenant) -> None:
    wait = request.app[RATE_LIMITER].check((tenant.region, tenant.project_id))
    if wait is not None:
        request.app[COUNTERS].record_throttled("rate_limit", tenant.project_id)
        raise GatewayError.throttled(wait)


async def _pause(request: web.Request, seconds: float) -> None:
    """Sleep, cut short when the server shuts down."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(request.app[CLOSING].wait(), seconds)


async def _before_execution(request: web.Request, tenant: Tenant, decision: FaultDecision) -> None:
    if decision.latency > 0:
        await _pause(request, decision.latency)
    if decision.throttle_after is not None:
        request.app[COUNTERS].record_throttled("fault", tenant.project_id)
        raise GatewayError.throttled(decision.throttle_after)
    if decision.error is not None:
        raise decision.error


def _faults(request: web.Request, tenant: Tenant, operation: str) -> FaultDecision:
    decision = request.app[FAULTS].decide(operation, tenant.region, tenant.project_id)
    request.app[COUNTERS].record_faults(operation, decision.kinds)
    return decision


async def _execute(
    request: web.Request, operation: OperationRequest, decision: FaultDecision
) -> OperationResponse:
    """Run the operation; an execute-then-time-out fault then loses the answer, whatever it was."""
    try:
        return _handle(request, operation, decision.error_after_execute)
    finally:
        if decision.hang_seconds is not None:
            await _hang_up(request, decision.hang_seconds)


def _handle(
    request: web.Request, operation: OperationRequest, error_after: GatewayError | None
) -> OperationResponse:
    """The domain's answer, or, with an execute-then-answer-an-error fault, ``error_after`` instead."""
    domain = request.app[DOMAIN]
    if error_after is None:
        domain.tick()
        return domain.handle(operation)
    with contextlib.suppress(CbrError):  # the gateway's error replaces the service's, as well
        domain.tick()
        domain.handle(operation)
    log.info(
        "fault: answering request %s %s with %s after executing it", request.method, request.path, error_after
    )
    raise error_after


async def _hang_up(request: web.Request, seconds: float) -> None:
    """Execute-then-time-out: hold the connection, then close it without answering."""
    await _pause(request, seconds)
    log.info(
        "fault: closing the connection of request %s %s without a response", request.method, request.path
    )
    request[NO_RESPONSE] = True
    request.protocol.force_close()


def _to_http(response: OperationResponse) -> web.Response:
    if response.body is None:
        return web.Response(status=response.status)
    return _json(response.status, response.body)


def _methods_elsewhere(request: web.Request) -> list[str]:
    """Methods of an IAM or admin path asked with another method (the catch-all got it instead)."""
    methods = {
        route.method
        for resource in request.app.router.resources()
        if resource.canonical == request.path
        for route in resource
        if route.method != "*"
    }
    return sorted(methods)


async def dispatch_cbr(request: web.Request) -> web.StreamResponse:
    allowed = _methods_elsewhere(request)
    if allowed:
        raise GatewayError.method_not_allowed(request.method, allowed)
    match = request.app[ROUTES].match(request.method, request.raw_path.partition("?")[0])
    request[OPERATION] = match.operation
    raw = await read_body(request, request.app[SETTINGS].max_body_bytes)
    tenant = _tenant(request, _authenticate(request, raw), match)
    request.app[COUNTERS].record_request(match.operation, tenant.region, tenant.project_id)
    _throttle(request, tenant)
    if raw:
        check_content_type(request)
    body = parse_json(raw)
    decision = _faults(request, tenant, match.operation)
    await _before_execution(request, tenant, decision)
    query = parse_raw_query(request.raw_path.partition("?")[2])
    operation = OperationRequest(
        tenant.region, tenant.project_id, match.operation, match.path_params(), query, body
    )
    return _to_http(await _execute(request, operation, decision))


async def _signal_closing(app: web.Application) -> None:
    app[CLOSING].set()


async def _ticker(app: web.Application) -> AsyncIterator[None]:
    """Advance the domain's tasks in the background while the app runs."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(app[SETTINGS].tick_interval)
            try:
                app[DOMAIN].tick()
            except Exception:
                log.exception("bug: the emulator's background tick failed")

    task = asyncio.create_task(loop(), name="cbr-emulator-ticker")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass(frozen=True)
class Components:
    """Everything one emulator server holds; ``assemble`` derives the HTTP-side parts from the config."""

    domain: Domain
    clock: EmulatorClock
    tenants: TenantDirectory
    settings: HttpSettings
    faults: Faults
    rate_limiter: RateLimiter
    counters: Counters
    iam: Iam
    authenticator: Authenticator


def wall_time() -> datetime:
    """What ``X-Sdk-Date`` is judged against.

    Clients sign with wall time, so signatures are always compared with wall time. While the emulator's
    clock runs in real time this is the same instant; a manual clock, or a real one shifted forward by
    ``advance`` (the contract suite does that between polls), is deliberately not used, otherwise every
    signed request would fail once the clock had moved 15 minutes away.
    """
    return datetime.now(UTC)


def assemble(
    config: EmulatorConfig,
    domain: Domain,
    clock: EmulatorClock,
    faults: Faults | None = None,
    rate_limit: RateLimit | None = None,
) -> Components:
    tenants = TenantDirectory(config.tenants)
    iam = Iam(tenants, clock.now, timedelta(seconds=config.token_ttl_seconds))
    skew = timedelta(minutes=config.clock_skew_minutes)
    return Components(
        domain=domain,
        clock=clock,
        tenants=tenants,
        settings=HttpSettings(max_body_bytes=config.max_body_bytes),
        faults=faults or Faults(),
        rate_limiter=RateLimiter(rate_limit or config.rate_limit),
        counters=Counters(),
        iam=iam,
        authenticator=Authenticator(tenants, iam, wall_time, skew),
    )


def build_app(parts: Components) -> web.Application:
    app = web.Application(middlewares=[envelope], client_max_size=parts.settings.max_body_bytes)
    app[DOMAIN], app[CLOCK], app[TENANTS], app[SETTINGS] = (
        parts.domain,
        parts.clock,
        parts.tenants,
        parts.settings,
    )
    app[FAULTS], app[RATE_LIMITER], app[COUNTERS] = parts.faults, parts.rate_limiter, parts.counters
    app[IAM], app[AUTHENTICATOR] = parts.iam, parts.authenticator
    app[ROUTES] = RouteTable.from_sdk()
    app[CLOSING] = asyncio.Event()
    app.add_routes(admin_routes())
    app.add_routes(iam_routes())
    app.router.add_route("*", "/{tail:.*}", dispatch_cbr)
    app.on_shutdown.append(_signal_closing)
    app.cleanup_ctx.append(_ticker)
    return app
