"""How a request proves who sends it: AK/SK signatures or an IAM token.

An :class:`Authenticator` turns the headers of an outgoing request into the headers to send. AK/SK
signs every request (``SDK-HMAC-SHA256``, see :mod:`orchestrator.cbr.signing`) and sends
``X-Project-Id``. Token authentication logs in once at IAM (password, project scope), caches the
token until shortly before it expires, lets concurrent callers share one login, and on a 401 drops
the token so that the request is replayed once with a fresh one. No secret (SK, password, token)
appears in a ``repr``, a log line or an exception text.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import aiohttp

from orchestrator.cbr.errors import (
    connection_error,
    error_from_response,
    invalid_response,
    timeout_error,
)
from orchestrator.cbr.models import parse_timestamp
from orchestrator.cbr.signing import Credentials, sign_request

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
IAM_TOKEN_OPERATION = "iam_create_token"
TOKEN_HEADER = "X-Auth-Token"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OutgoingRequest:
    """A request about to be sent: path already percent-encoded, query as unencoded pairs."""

    method: str
    host: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes | None
    project_id: str


class Authenticator(Protocol):
    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        """The headers to send: those of ``request`` plus whatever proves the caller's identity."""
        ...

    async def unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """A request with ``sent_headers`` was answered 401; True if replaying it once may help."""
        ...


class AkSkAuth:
    """Permanent or temporary AK/SK: each request signed, ``X-Project-Id`` sent and signed.

    ``clock`` dates the signature; pass the emulator's clock when it runs on a manual clock, since
    the gateway refuses signatures more than 15 minutes away from its own time.
    """

    def __init__(self, credentials: Credentials, clock: Clock = utc_now) -> None:
        self._credentials = credentials
        self._clock = clock

    def __repr__(self) -> str:
        return f"AkSkAuth(access_key={self._credentials.access_key!r})"

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        headers = {**request.headers, "X-Project-Id": request.project_id}
        return sign_request(
            self._credentials,
            request.method,
            request.host,
            request.path,
            request.query,
            headers,
            request.body,
            now=self._clock(),
        )

    async def unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True)
class IamToken:
    value: str = field(repr=False)
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IamToken(value='***', expires_at={self.expires_at.isoformat()})"


@dataclass(frozen=True)
class PasswordIdentity:
    """An IAM user and the project its tokens are scoped to (by name, or by id when given).

    On Huawei Cloud a region's default project is named after the region (``eu-west-101``).
    """

    user_name: str
    password: str = field(repr=False)
    domain_name: str
    project_name: str | None = None
    project_id: str | None = None

    def __post_init__(self) -> None:
        if not self.project_name and not self.project_id:
            raise ValueError("a token needs a project scope: give project_name or project_id")

    def __repr__(self) -> str:
        scope = (
            f"project_id={self.project_id!r}" if self.project_id else f"project_name={self.project_name!r}"
        )
        return f"PasswordIdentity(user_name={self.user_name!r}, domain_name={self.domain_name!r}, {scope})"

    def request_body(self) -> dict[str, object]:
        project: dict[str, object] = (
            {"id": self.project_id} if self.project_id else {"name": self.project_name}
        )
        user = {"name": self.user_name, "password": self.password, "domain": {"name": self.domain_name}}
        return {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": project},
            }
        }


class TokenCache:
    """One token, reused until ``refresh_margin`` before it expires; one refresh at a time."""

    def __init__(self, clock: Clock = utc_now, refresh_margin: timedelta = timedelta(minutes=5)) -> None:
        self._clock = clock
        self._margin = refresh_margin
        self._token: IamToken | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TokenCache(token={self._token!r}, refreshes={self.refreshes})"

    def _usable(self, token: IamToken | None) -> bool:
        return token is not None and self._clock() < token.expires_at - self._margin

    async def get(self, fetch: Callable[[], Awaitable[IamToken]]) -> str:
        """The cached token, or one fresh from ``fetch`` (called by one caller at a time)."""
        if self._usable(self._token):
            assert self._token is not None
            return self._token.value
        async with self._lock:
            if not self._usable(self._token):
                self._token = await fetch()
                self.refreshes += 1
            assert self._token is not None
            return self._token.value

    def invalidate(self, value: str) -> bool:
        """Forget the token if it is still ``value``; False if it was already replaced."""
        if self._token is not None and self._token.value == value:
            self._token = None
            return True
        return False


class TokenAuth:
    """IAM token authentication: ``X-Auth-Token`` on each request, no signature.

    ``iam_url`` is the IAM base URL of the region (``Endpoints.iam_url(region)``); ``timeout`` bounds
    each login. The token comes from the ``X-Subject-Token`` header, its expiry from the body's
    ``token.expires_at``.
    """

    def __init__(
        self,
        identity: PasswordIdentity,
        iam_url: str,
        *,
        clock: Clock = utc_now,
        refresh_margin: timedelta = timedelta(minutes=5),
        timeout: float = 30.0,
    ) -> None:
        self._identity = identity
        self._iam_url = iam_url.rstrip("/")
        self._timeout = timeout
        self.cache = TokenCache(clock, refresh_margin)

    def __repr__(self) -> str:
        return f"TokenAuth({self._identity!r}, iam_url={self._iam_url!r})"

    async def authorize(self, request: OutgoingRequest, session: aiohttp.ClientSession) -> dict[str, str]:
        token = await self.cache.get(lambda: self.login(session))
        return {**request.headers, TOKEN_HEADER: token}

    async def unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        token = sent_headers.get(TOKEN_HEADER)
        if token is not None:
            self.cache.invalidate(token)
        return True

    async def login(self, session: aiohttp.ClientSession) -> IamToken:
        """POST ``/v3/auth/tokens`` with the password body; raises :class:`CbrApiError` on failure."""
        url = f"{self._iam_url}/v3/auth/tokens"
        body = json.dumps(self._identity.request_body()).encode()
        headers = {"Content-Type": "application/json;charset=utf-8"}
        try:
            timeout = aiohttp.ClientTimeout(total=self._timeout)
            async with session.post(url, data=body, headers=headers, timeout=timeout) as response:
                text = await response.text()
                if response.status >= 400:
                    raise error_from_response(IAM_TOKEN_OPERATION, response.status, response.headers, text)
                token = _token_from_answer(response.status, response.headers, text)
        except TimeoutError as exc:
            raise timeout_error(IAM_TOKEN_OPERATION, self._timeout, idempotent=True) from exc
        except aiohttp.ClientError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise connection_error(IAM_TOKEN_OPERATION, detail, request_sent=True, idempotent=True) from exc
        logger.info("obtained an IAM token valid until %s", token.expires_at.isoformat())
        return token


def _token_from_answer(status: int, headers: Mapping[str, str], text: str) -> IamToken:
    value = headers.get("X-Subject-Token")
    request_id = headers.get("X-Request-Id")
    if not value:
        raise invalid_response(IAM_TOKEN_OPERATION, status, "no X-Subject-Token header", request_id)
    try:
        expires_at = parse_timestamp(json.loads(text)["token"]["expires_at"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise invalid_response(
            IAM_TOKEN_OPERATION, status, "no readable token.expires_at in the answer", request_id
        ) from exc
    return IamToken(value=value, expires_at=expires_at)
