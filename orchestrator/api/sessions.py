"""The status page's session: a cookie that proves its holder typed a valid API key, without holding it.

A browser cannot send ``Authorization`` on a page navigation nor on an ``EventSource``, and a key in the
URL would end up in access logs and browser history. So the login form POSTs the key once; the answer sets
``cbro_status=<key id>.<expiry>.<HMAC>`` (HttpOnly: page scripts never see it; SameSite=Strict: no other
site's page sends it; Secure over HTTPS; 8 hours). The HMAC is keyed by the key's stored hash, so every
API process can check it with what PostgreSQL holds (no secret to share), and revoking the key ends its
sessions within the key cache's few seconds. A session only ever grants ``read``, and only on the status
pages and ``GET /v1/events``: a cookie sent along with a forged request can change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

from orchestrator.api.auth import KeyBook
from orchestrator.api.keys import Grant
from orchestrator.api.problems import ProblemError
from orchestrator.store.api_keys import StoredApiKey

COOKIE = "cbro_status"
SESSION_SECONDS = 8 * 3600


def session_token(stored: StoredApiKey, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{stored.key_id}.{expires}.{_mac(stored, expires)}"


def set_session(response: web.StreamResponse, request: web.Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def end_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


async def session_grant(request: web.Request, keys: KeyBook) -> Grant:
    """What the request's session cookie grants (only ever ``read``); 401 without a valid one."""
    key_id, expires, mac = _parts(request.cookies.get(COOKIE, ""))

    def proven(stored: StoredApiKey) -> bool:
        return expires > time.time() and hmac.compare_digest(mac, _mac(stored, expires))

    grant = await keys.grant_proven(key_id, proven, "read")  # 403 unless the key may read
    return Grant(grant.key_id, grant.name, grant.projects, frozenset({"read"}))


def _parts(token: str) -> tuple[str, int, str]:
    key_id, _, rest = token.partition(".")
    expires, _, mac = rest.partition(".")
    if not (key_id and expires.isdigit() and mac):
        raise ProblemError(401, "Unauthorized", "sign in on the status page first")
    return key_id, int(expires), mac


def _mac(stored: StoredApiKey, expires: int) -> str:
    message = f"status-session|{stored.key_id}|{expires}".encode()
    return hmac.new(stored.secret_hash, message, hashlib.sha256).hexdigest()
