"""One CBR call over HTTP: build the URL, authenticate, send with a timeout, map failures.

Every call is named by its SDK operation (``list_backups``, ``copy_checkpoint``, ...); method, path
and success status come from ``orchestrator/cbr/operations.json``. Path parameters are
percent-encoded with no safe characters, the query is sent exactly as ``canonical_query(pairs)``,
and every failure becomes a :class:`~orchestrator.cbr.errors.CbrApiError`.

A :class:`RequestObserver` sees each HTTP attempt before it goes out and after it ends: the seam for
counting calls and for the rate limiter. Right before a call that is not idempotent goes out (after
the rate limiter let it), the :data:`SEND_GUARD` of the calling task, if any, may still refuse it:
the engine uses it so that no such call starts without enough of the workflow's lease left.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from orchestrator.cbr.auth import Authenticator, OutgoingRequest
from orchestrator.cbr.endpoints import Endpoints, host_of, path_prefix_of
from orchestrator.cbr.errors import (
    DEFAULT_RETRY_AFTER_CAP,
    TIMEOUT,
    CbrApiError,
    connection_error,
    error_from_response,
    invalid_response,
    timeout_error,
)
from orchestrator.cbr.operations import sdk_operations, success_statuses
from orchestrator.cbr.signing import canonical_query
from orchestrator.observability import log_context, metrics, tracing

logger = logging.getLogger(__name__)

USER_AGENT = "huaweicloud-usdk-python/3.0; cbr-orchestrator"
DEFAULT_TIMEOUT = 30.0

# POSTs whose replay cannot add a second effect: tags are overwritten, and a repeated bind or unbind
# answers "already done" (6103 / 6135).
_IDEMPOTENT_POSTS = frozenset(
    {
        "create_vault_tags",
        "batch_create_and_delete_vault_tags",
        "add_vault_resource",
        "remove_vault_resource",
        "disassociate_vault_policy",
        "show_vault_resource_instances",
    }
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Awaited with the call's timeout (seconds) right before a non-idempotent call is sent; raises to refuse.
SendGuard = Callable[[float], Awaitable[None]]
SEND_GUARD: ContextVar[SendGuard | None] = ContextVar("cbr_send_guard", default=None)


@dataclass(frozen=True)
class OperationSpec:
    name: str
    method: str
    path: str
    success_status: int

    @property
    def idempotent(self) -> bool:
        return self.method != "POST" or self.name in _IDEMPOTENT_POSTS

    def content_type(self) -> str:
        return "application/json;charset=utf-8" if self.method in ("POST", "PUT") else "application/json"


@cache
def operation_table() -> dict[str, OperationSpec]:
    statuses = success_statuses()
    return {
        entry["operation"]: OperationSpec(
            name=entry["operation"],
            method=entry["method"],
            path=entry["path"],
            success_status=statuses[entry["operation"]],
        )
        for entry in sdk_operations()
    }


def encode_path(template: str, params: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders with values percent-encoded with no safe characters."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise ValueError(f"path parameter {name!r} missing for {template}")
        return quote(params[name], safe="")

    return _PLACEHOLDER.sub(fill, template)


@dataclass(frozen=True)
class RequestInfo:
    """One HTTP attempt of an operation (``attempt`` 2 is the replay after a token refresh)."""

    operation: str
    method: str
    region: str
    project_id: str
    attempt: int = 1


@dataclass(frozen=True)
class ResponseInfo:
    status: int  # 0 when no answer arrived
    elapsed_seconds: float
    error: CbrApiError | None = None


class RequestObserver(Protocol):
    async def before_request(self, request: RequestInfo) -> None:
        """Called before each attempt; may wait (a rate limiter would) or raise to refuse it."""
        ...

    async def after_response(self, request: RequestInfo, response: ResponseInfo) -> None:
        """Called after each attempt, with the error it ended in, if any."""
        ...


class CallCounter:
    """A :class:`RequestObserver` that counts attempts and errors per operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    async def before_request(self, request: RequestInfo) -> None:
        self.calls[request.operation] += 1

    async def after_response(self, request: RequestInfo, response: ResponseInfo) -> None:
        if response.error is not None:
            self.errors[request.operation] += 1


@dataclass(frozen=True)
class Reply:
    """A successful answer: status, parsed JSON (None for an empty body) and the request id."""

    operation: str
    status: int
    data: Any
    request_id: str | None


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    text: str


class Transport:
    """Sends the operations of one project in one region over one ``aiohttp.ClientSession``."""

    def __init__(
        self,
        *,
        region: str,
        project_id: str,
        auth: Authenticator,
        endpoints: Endpoints,
        session: aiohttp.ClientSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        observer: RequestObserver | None = None,
        user_agent: str = USER_AGENT,
        retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP,
    ) -> None:
        self.region = region
        self.project_id = project_id
        self.base_url = endpoints.cbr_url(region)
        self.timeout = timeout
        self.retry_after_cap = retry_after_cap
        self._auth = auth
        self._session = session
        self._owns_session = session is None
        self._observer = observer
        self._user_agent = user_agent

    def __repr__(self) -> str:
        return (
            f"Transport(region={self.region!r}, project_id={self.project_id!r}, base_url={self.base_url!r})"
        )

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        operation: str,
        *,
        path: Mapping[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: object = None,
        request_timeout: float | None = None,
    ) -> Reply:
        """Send ``operation`` (one span in the current trace, named after it); its parsed answer."""
        where = {"cbr.operation": operation, "cbr.region": self.region, "cbr.project_id": self.project_id}
        with tracing.span(f"cbr {operation}", **where) as span:
            try:
                reply = await self._call(operation, path, query, body, request_timeout)
            except CbrApiError as exc:
                span.set_attribute("cbr.request_id", exc.request_id or "")
                span.set_attribute("cbr.error_code", exc.code)
                raise
            span.set_attribute("cbr.request_id", reply.request_id or "")
            return reply

    async def _call(
        self,
        operation: str,
        path: Mapping[str, str] | None,
        query: list[tuple[str, str]] | None,
        body: object,
        request_timeout: float | None,
    ) -> Reply:
        spec = operation_table()[operation]
        request = self._outgoing(spec, path or {}, query or [], body)
        seconds = self.timeout if request_timeout is None else request_timeout
        answer = await self._attempt(spec, request, seconds, attempt=1)
        if answer is None:
            answer = await self._attempt(spec, request, seconds, attempt=2, replay=True)
        assert answer is not None
        return _reply(spec, answer)

    def _outgoing(
        self, spec: OperationSpec, path: Mapping[str, str], query: list[tuple[str, str]], body: object
    ) -> OutgoingRequest:
        params = {**path, "project_id": self.project_id}
        full_path = path_prefix_of(self.base_url) + encode_path(spec.path, params)
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": spec.content_type(), "User-Agent": self._user_agent}
        return OutgoingRequest(
            method=spec.method,
            host=host_of(self.base_url),
            path=full_path,
            query=list(query),
            headers=headers,
            body=payload,
            project_id=self.project_id,
        )

    async def _attempt(
        self,
        spec: OperationSpec,
        request: OutgoingRequest,
        seconds: float,
        *,
        attempt: int,
        replay: bool = False,
    ) -> _Answer | None:
        """One HTTP exchange; None asks for one replay (a 401 the authenticator can fix)."""
        info = RequestInfo(spec.name, spec.method, self.region, self.project_id, attempt)
        if self._observer is not None:
            await self._observer.before_request(info)
        if not spec.idempotent:
            await _check_send_guard(seconds)
        started = time.monotonic()
        answer: _Answer | None = None
        error: CbrApiError | None = None
        headers: dict[str, str] = {}
        log_context.bind(cbr_request_id=None)  # until this attempt's answer names one
        try:
            headers = await self._auth.authorize(request, self.session())
            answer = await self._send(spec, request, headers, seconds)
            log_context.bind(cbr_request_id=answer.headers.get("X-Request-Id"))
            if answer.status >= 400:
                error = error_from_response(
                    spec.name,
                    answer.status,
                    answer.headers,
                    answer.text,
                    idempotent=spec.idempotent,
                    retry_after_cap=self.retry_after_cap,
                )
        except CbrApiError as exc:
            error = exc
        status = answer.status if answer is not None else 0
        elapsed = time.monotonic() - started
        _measure(info, status, elapsed, error)
        await self._notify(info, ResponseInfo(status, elapsed, error))
        self._log(info, status, elapsed, error)
        if error is None:
            return answer
        if status == 401 and not replay and await self._auth.unauthorized(headers):
            return None
        raise error

    async def _notify(self, info: RequestInfo, response: ResponseInfo) -> None:
        if self._observer is not None:
            await self._observer.after_response(info, response)

    async def _send(
        self, spec: OperationSpec, request: OutgoingRequest, headers: Mapping[str, str], seconds: float
    ) -> _Answer:
        url = self._url(request)
        try:
            async with self.session().request(
                spec.method,
                url,
                data=request.body,
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=seconds),
                allow_redirects=False,
                raise_for_status=False,  # whatever the shared session says: errors are mapped here
            ) as response:
                raw = await response.read()
                return _Answer(response.status, response.headers, raw.decode("utf-8", errors="replace"))
        except TimeoutError as exc:
            raise timeout_error(spec.name, seconds, idempotent=spec.idempotent) from exc
        except aiohttp.ClientConnectorError as exc:
            raise connection_error(spec.name, _describe(exc), request_sent=False, idempotent=True) from exc
        except aiohttp.ClientError as exc:
            raise connection_error(
                spec.name, _describe(exc), request_sent=True, idempotent=spec.idempotent
            ) from exc

    def _url(self, request: OutgoingRequest) -> URL:
        parts = urlsplit(self.base_url)
        text = f"{parts.scheme}://{parts.netloc}{request.path}"
        query = canonical_query(request.query)
        return URL(f"{text}?{query}" if query else text, encoded=True)

    @staticmethod
    def _log(info: RequestInfo, status: int, elapsed: float, error: CbrApiError | None) -> None:
        if error is None:
            logger.debug("%s -> %s in %.0f ms", info.operation, status, elapsed * 1000)
        else:
            logger.info("%s failed in %.0f ms: %s", info.operation, elapsed * 1000, error)


def _measure(info: RequestInfo, status: int, elapsed: float, error: CbrApiError | None) -> None:
    timed_out = error is not None and error.code == TIMEOUT
    metrics.CBR_CALLS.labels(info.operation, metrics.cbr_call_status(status, timed_out)).inc()
    metrics.CBR_CALL_DURATION.labels(info.operation).observe(elapsed)
    if error is not None and error.throttled:
        metrics.CBR_THROTTLED.labels(info.project_id).inc()


async def _check_send_guard(seconds: float) -> None:
    guard = SEND_GUARD.get()
    if guard is not None:
        await guard(seconds)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _reply(spec: OperationSpec, answer: _Answer) -> Reply:
    request_id = answer.headers.get("X-Request-Id")
    text = answer.text.strip()
    if not text:
        return Reply(spec.name, answer.status, None, request_id)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise invalid_response(
            spec.name, answer.status, "the answer is not JSON", request_id, idempotent=spec.idempotent
        ) from exc
    return Reply(spec.name, answer.status, data, request_id)
