"""The status page: server-rendered HTML (Jinja, autoescaped) of running and recent workflows, fleets'
progress, recent failures and one workflow's timeline, refreshed live over ``GET /v1/events``.

Signing in posts an API key once and leaves a session cookie (see :mod:`orchestrator.api.sessions` for
why a cookie and not a key in the page); the pages are plain routes, not in the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

from orchestrator.api.context import context_of
from orchestrator.api.keys import Grant
from orchestrator.api.problems import ProblemError
from orchestrator.api.sessions import end_session, session_grant, session_token, set_session
from orchestrator.messages import FleetCounts
from orchestrator.store.overview import WorkflowLine
from orchestrator.store.status import WorkflowDetail

LOGIN = "/status/login"
# the HTML pages' paths: routed, but not API endpoints (the OpenAPI document leaves them out)
PAGE_PATHS = ("/", "/status", LOGIN, "/status/logout", "/status/workflows/{id}")
FLEETS_SHOWN = 10
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make forms post "Origin: null"
}
Page = Callable[[web.Request, Grant], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Entry:
    """One line of a workflow's timeline: a CBR call or an event."""

    at: datetime
    what: str
    outcome: str
    code: str | None = None
    detail: str | None = None


def percent(counts: FleetCounts, wf: WorkflowLine) -> int:
    if counts.total:
        return counts.final * 100 // counts.total
    return 100 if wf.finished_at is not None else 0


def install(app: web.Application) -> None:
    loader = jinja2.PackageLoader("orchestrator.api", "templates")
    env = aiohttp_jinja2.setup(app, loader=loader, autoescape=True)
    env.globals["percent"] = percent
    app.router.add_routes(
        [
            web.get("/", home),
            web.get(LOGIN, login_form),
            web.post(LOGIN, login),
            web.post("/status/logout", logout),
            web.get("/status", _signed_in(status)),
            web.get("/status/workflows/{id}", _signed_in(workflow_page)),
        ]
    )


def _signed_in(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            grant = await session_grant(request, context_of(request).keys)
        except ProblemError as exc:
            if exc.problem.status == 429:
                raise
            return _see_other(LOGIN)
        return await page(request, grant)

    return handler


async def home(_: web.Request) -> web.StreamResponse:
    return _see_other("/status")


async def login_form(request: web.Request) -> web.StreamResponse:
    return _render(request, "login.html", {})


async def login(request: web.Request) -> web.StreamResponse:
    _same_origin(request)
    key = str((await request.post()).get("key", "")).strip()
    keys = context_of(request).keys
    try:
        grant = await keys.grant_header(f"Bearer {key}", "read")
    except ProblemError as exc:
        detail = "This key may not read." if exc.problem.status == 403 else "This key is not valid."
        return _render(request, "login.html", {"problem": detail}, status=exc.problem.status)
    stored = await keys.stored(grant.key_id)
    assert stored is not None  # it was just granted
    response = _see_other("/status")
    set_session(response, request, session_token(stored))
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    _same_origin(request)
    response = _see_other(LOGIN)
    end_session(response)
    return response


async def status(request: web.Request, grant: Grant) -> web.StreamResponse:
    store = context_of(request).store
    projects = grant.projects or None
    running, recent, failures = await asyncio.gather(
        store.overview.running(projects),
        store.overview.recent(projects, 20),
        store.overview.failures(projects),
    )
    shown = [w for w in (*running, *recent) if w.kind == "fleet_backup"][:FLEETS_SHOWN]
    counts = await asyncio.gather(*(store.fleet.counts(w.id) for w in shown))
    values = {
        "grant": grant,
        "running": running,
        "recent": recent,
        "failures": failures,
        "fleets": list(zip(shown, counts, strict=True)),
        "stream_url": "/v1/events",
    }
    return _render(request, "status.html", values)


async def workflow_page(request: web.Request, grant: Grant) -> web.StreamResponse:
    store = context_of(request).store
    detail = await store.status.detail(_workflow_id(request))
    if detail is None or not grant.sees(detail.workflow.project_id):
        return _render(request, "missing.html", {"grant": grant}, status=404)
    wf = detail.workflow
    counts = await store.fleet.counts(wf.id) if wf.kind == "fleet_backup" else None
    values = {
        "grant": grant,
        "wf": wf,
        "counts": counts,
        "timeline": timeline(detail),
        "stream_url": "/v1/events?" + urlencode({"workflow": str(wf.id)}),
    }
    return _render(request, "workflow.html", values)


def timeline(detail: WorkflowDetail) -> list[Entry]:
    entries = [
        Entry(s.started_at, s.operation, s.outcome.value, s.error_code, s.error_message)
        for s in (stored.step for stored in detail.steps)
    ]
    entries += [Entry(e.created_at, "event", e.routing_key.rsplit(".", 1)[-1]) for e in detail.events]
    if detail.fleet is not None:  # its failed or skipped resources, listed where it starts
        started = detail.workflow.created_at
        entries += [
            Entry(started, f"resource {p.resource_id}", p.status, p.error_code, p.error_message)
            for p in detail.fleet.problems
        ]
    return sorted(entries, key=lambda e: e.at)


def _workflow_id(request: web.Request) -> str:
    given = request.match_info["id"]
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return given[:200]  # a command id


def _render(request: web.Request, template: str, values: dict[str, Any], status: int = 200) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    response = aiohttp_jinja2.render_template(template, request, {**values, "nonce": nonce}, status=status)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **SECURITY_HEADERS})


def _same_origin(request: web.Request) -> None:
    """Refuse a form posted from another site's page (the session cookie is SameSite=Strict already)."""
    origin = request.headers.get("Origin")  # its host only: a TLS proxy in front changes the scheme
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise ProblemError(403, "Forbidden", "this form is only accepted from this site")
