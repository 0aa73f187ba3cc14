"""Who is calling: the API key in ``Authorization: Bearer cbro_…``, what it grants, and how fast it may call
(its budget is shared by every API process: :mod:`orchestrator.api.request_budgets`).

A key's record is kept for a few seconds per process (``api.key_cache_seconds``), so that a revocation
takes effect everywhere within that time without a database read per request. A key for one project
gets 404 for anything of another, as if it did not exist; a key without the scope a request needs gets
403.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from orchestrator.api.keys import SCOPES, Grant, Scope, parse_key, secret_matches
from orchestrator.api.problems import ProblemError
from orchestrator.api.request_budgets import RequestBudgets
from orchestrator.config import ApiSettings
from orchestrator.store import Store
from orchestrator.store.api_keys import StoredApiKey

BEARER = "Bearer "
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="cbr-orchestrator"'}


@dataclass
class KeyBook:
    """The keys this process has looked up lately, and each key's request budget."""

    store: Store
    settings: ApiSettings
    _cached: dict[str, tuple[float, StoredApiKey | None]] = field(default_factory=dict)
    _budgets: RequestBudgets = field(init=False)

    def __post_init__(self) -> None:
        self._budgets = RequestBudgets(self.store, "api-key", self.settings.key_rate, self.settings.key_burst)

    async def grant(self, request: web.Request, scope: Scope) -> Grant:
        return await self.grant_header(request.headers.get("Authorization", ""), scope)

    async def grant_header(self, header: str, scope: Scope) -> Grant:
        """:meth:`grant` for an ``Authorization`` value (``Bearer cbro_…``) that came another way."""
        grant = await self._authenticate(header)
        return await self._checked(grant, scope)

    async def grant_proven(self, key_id: str, proven: Callable[[StoredApiKey], bool], scope: Scope) -> Grant:
        """What key ``key_id`` grants to a caller who holds no key but a proof made from it (the status
        page's session cookie), when ``proven`` accepts the stored key."""
        stored = await self._lookup(key_id)
        if stored is None or stored.revoked_at is not None or not proven(stored):
            raise ProblemError(401, "Unauthorized", "this session is not valid", headers=UNAUTHORIZED)
        return await self._checked(_grant_of(stored), scope)

    async def authenticate(self, request: web.Request) -> Grant:
        """The caller's key, whatever its scopes (401 without a valid one); for a request whose scope
        depends on what it asks (a command's kind): :meth:`spend` and :func:`require` it, once known."""
        return await self._authenticate(request.headers.get("Authorization", ""))

    async def spend(self, grant: Grant) -> None:
        """One request of this key, or 429 when its shared budget is spent."""
        await self._budgets.spend(grant.key_id, "this API key")

    async def stored(self, key_id: str) -> StoredApiKey | None:
        return await self._lookup(key_id)

    async def _checked(self, grant: Grant, scope: Scope) -> Grant:
        require(grant, scope)
        await self.spend(grant)
        return grant

    async def _authenticate(self, header: str) -> Grant:
        presented = parse_key(header[len(BEARER) :]) if header.startswith(BEARER) else None
        if presented is None:
            raise ProblemError(
                401,
                "Unauthorized",
                "an API key is required: Authorization: Bearer cbro_…",
                headers=UNAUTHORIZED,
            )
        stored = await self._lookup(presented.key_id)
        if (
            stored is None
            or stored.revoked_at is not None
            or not secret_matches(presented.secret, stored.secret_hash)
        ):
            raise ProblemError(401, "Unauthorized", "this API key is not valid", headers=UNAUTHORIZED)
        return _grant_of(stored)

    async def _lookup(self, key_id: str) -> StoredApiKey | None:
        now = time.monotonic()
        cached = self._cached.get(key_id)
        if cached is not None and now - cached[0] < self.settings.key_cache_seconds:
            return cached[1]
        stored = await self.store.api_keys.get(key_id)
        self._cached[key_id] = (now, stored)
        return stored


def _grant_of(stored: StoredApiKey) -> Grant:
    scopes = frozenset(s for s in SCOPES if s in stored.scopes)
    return Grant(stored.key_id, stored.name, frozenset(stored.projects), scopes)


def require(grant: Grant, scope: Scope) -> None:
    if not grant.may(scope):
        raise ProblemError(403, "Forbidden", f"this API key lacks the scope {scope!r}")


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not Found", f"no {what} with this id")
