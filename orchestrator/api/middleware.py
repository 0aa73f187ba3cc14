"""What every request goes through: it is counted and timed by its route's template (never its raw path,
whose ids would make a series each); any failure answers as a problem (RFC 9457), and nothing unexpected
reaches the caller beyond "internal error" and a request id to find it in the logs."""

from __future__ import annotations

import logging
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from orchestrator.api.problems import Problem, ProblemError, problem_response
from orchestrator.observability import metrics

log = logging.getLogger(__name__)
REQUEST_ID = "X-Request-Id"
UNMATCHED = "unmatched"  # the route of a request no route matched (a 404, a 405)


@web.middleware
async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time the request under its route template; outermost, so it sees the final status."""
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # a redirect passes the problems middleware as an exception
        status = exc.status
        raise
    finally:
        route = route_of(request)
        metrics.API_REQUESTS.labels(route, str(status)).inc()
        metrics.API_REQUEST_DURATION.labels(route).observe(time.monotonic() - started)


def route_of(request: web.Request) -> str:
    """The matched route's template (``/v1/workflows/{workflow_id}``), or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = uuid.uuid4().hex
    try:
        response = await handler(request)
    except ProblemError as exc:
        problem = exc.problem.model_copy(update={"instance": request.path})
        return problem_response(problem, {**exc.headers, REQUEST_ID: request_id})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        problem = Problem(title=exc.reason, status=exc.status, detail=_detail_of(exc), instance=request.path)
        return problem_response(problem, {**_kept_headers(exc), REQUEST_ID: request_id})
    except Exception:
        log.exception("request %s %s failed (request id %s)", request.method, request.path, request_id)
        problem = Problem(title="Internal Server Error", status=500, detail=f"request id {request_id}")
        return problem_response(problem, {REQUEST_ID: request_id})
    response.headers.setdefault(REQUEST_ID, request_id)
    return response


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    """The headers an error's meaning depends on (a 405's ``Allow``, RFC 9110 §15.5.6)."""
    return {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}


def _detail_of(exc: web.HTTPException) -> str | None:
    if exc.status == 413:
        return "the body is larger than this server accepts"
    return None
