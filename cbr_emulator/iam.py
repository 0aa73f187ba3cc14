"""The small part of IAM the CBR API needs: password tokens and project lists.

* ``POST /v3/auth/tokens`` with the password body of the CBR API reference (seed §3.2): user name,
  password, user domain (``name`` or ``id``) and ``scope.project`` (``name`` or ``id``) → 201, the
  token in the ``X-Subject-Token`` header, the token description in the body.
* ``GET /v3/auth/projects`` → the projects the token's user may use.
* ``GET /v3/projects`` (optional ``name`` / ``domain_id`` filters) → the projects of the token's domain.

Choices (documented here, not taken from Huawei's documentation):

* A token is valid ``token_ttl`` (24 h) on the **emulator clock**, so advancing a manual clock
  expires tokens; ``expires_at``/``issued_at`` are therefore emulator times.
* A token is scoped to one project; using it on another project's URL is a 403 at the gateway.
* A request without ``scope.project`` is refused with 400: CBR is a project-level service and the
  emulator issues no unscoped tokens.
* Errors use the Keystone shape ``{"error": {"code": 401, "title": "Unauthorized", "message": …}}``,
  which the SDK's error parser reads (nested ``code``/``message``).
* Domain and user ids are derived from their names (stable across restarts).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cbr_emulator.body import read_json
from cbr_emulator.config import Tenant
from cbr_emulator.errors import CbrError
from cbr_emulator.tenants import TenantDirectory

TOKEN_TTL = timedelta(hours=24)
MAX_TOKEN_REQUEST_BYTES = 64 * 1024
_NAMESPACE = uuid.UUID("6f1c3c1e-6a43-4f55-9d5e-2f0c1c7a0b11")


def stable_id(kind: str, name: str) -> str:
    return uuid.uuid5(_NAMESPACE, f"{kind}:{name}").hex


def iam_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


class IamError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        title = _TITLES.get(self.status, "Error")
        return {"error": {"code": self.status, "title": title, "message": self.message}}


class _Named(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1)
    id: str | None = Field(default=None, min_length=1)


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    password: str = Field(repr=False)
    domain: _Named


class _Password(BaseModel):
    user: _User


class _Identity(BaseModel):
    methods: list[str]
    password: _Password | None = None


class _Scope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    project: _Named | None = None


class _Auth(BaseModel):
    identity: _Identity
    scope: _Scope | None = None


class TokenRequest(BaseModel):
    auth: _Auth


@dataclass(frozen=True)
class TokenAsk:
    """A checked password-token request: who, and for which project."""

    user: _User
    project: _Named


def parse_token_request(body: Any) -> TokenAsk:
    try:
        request = TokenRequest.model_validate(body)
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in item["loc"]) for item in exc.errors())
        raise IamError(400, f"Request parameter {where} is invalid.") from None
    identity = request.auth.identity
    if "password" not in identity.methods or identity.password is None:
        raise IamError(400, "Only the password method is supported: auth.identity.password is required.")
    scope = request.auth.scope
    if scope is None or scope.project is None or not (scope.project.name or scope.project.id):
        raise IamError(400, "auth.scope.project (name or id) is required: CBR is a project-level service.")
    return TokenAsk(user=identity.password.user, project=scope.project)


def _in_domain(tenant: Tenant, domain: _Named) -> bool:
    """The user's domain given by name, id or both; all given must fit."""
    given = [(domain.name, tenant.domain_name), (domain.id, stable_id("domain", tenant.domain_name))]
    return any(wanted is not None for wanted, _ in given) and all(
        wanted in (None, actual) for wanted, actual in given
    )


@dataclass(frozen=True)
class IssuedToken:
    tenant: Tenant  # the project the token is scoped to, with its user
    issued_at: datetime
    expires_at: datetime


class Iam:
    """Users and projects come from the tenants; tokens live in memory."""

    def __init__(
        self, tenants: TenantDirectory, now: Callable[[], datetime], ttl: timedelta = TOKEN_TTL
    ) -> None:
        self._tenants = tenants
        self._now = now
        self._ttl = ttl
        self._tokens: dict[str, IssuedToken] = {}

    def _user_tenants(self, user: _User) -> list[Tenant]:
        found = [t for t in self._tenants.tenants if t.user_name == user.name and _in_domain(t, user.domain)]
        if not found or not secrets.compare_digest(found[0].password.encode(), user.password.encode()):
            raise IamError(401, "The username or password is wrong.")
        return found

    def issue(self, ask: TokenAsk) -> tuple[str, IssuedToken]:
        wanted = ask.project
        candidates = self._user_tenants(ask.user)
        tenant = next(
            (t for t in candidates if wanted.id in (None, t.project_id) and wanted.name in (None, t.name)),
            None,
        )
        if tenant is None:
            raise IamError(401, "The user has no access to the requested project.")
        self._forget_expired()
        now = self._now()
        token = "MII" + secrets.token_urlsafe(96)
        issued = IssuedToken(tenant=tenant, issued_at=now, expires_at=now + self._ttl)
        self._tokens[token] = issued
        return token, issued

    def lookup(self, token: str) -> IssuedToken | None:
        issued = self._tokens.get(token)
        if issued is None or issued.expires_at <= self._now():
            return None
        return issued

    def _forget_expired(self) -> None:
        now = self._now()
        for token in [t for t, issued in self._tokens.items() if issued.expires_at <= now]:
            del self._tokens[token]

    def user_projects(self, issued: IssuedToken) -> list[Tenant]:
        return self._tenants.user_tenants(issued.tenant.domain_name, issued.tenant.user_name)

    def domain_projects(self, issued: IssuedToken) -> list[Tenant]:
        return self._tenants.domain_tenants(issued.tenant.domain_name)


def _domain(tenant: Tenant) -> dict[str, str]:
    return {"id": stable_id("domain", tenant.domain_name), "name": tenant.domain_name}


def token_body(issued: IssuedToken) -> dict[str, Any]:
    tenant = issued.tenant
    user_id = stable_id("user", f"{tenant.domain_name}/{tenant.user_name}")
    return {
        "token": {
            "expires_at": iam_time(issued.expires_at),
            "issued_at": iam_time(issued.issued_at),
            "methods": ["password"],
            "catalog": [],
            "project": {"id": tenant.project_id, "name": tenant.name, "domain": _domain(tenant)},
            "user": {
                "id": user_id,
                "name": tenant.user_name,
                "domain": _domain(tenant),
                "password_expires_at": "",
            },
            "roles": [{"id": "0", "name": "te_admin"}, {"id": "0", "name": "op_restrict"}],
        }
    }


def project_body(tenant: Tenant, base_url: str) -> dict[str, Any]:
    domain_id = stable_id("domain", tenant.domain_name)
    return {
        "id": tenant.project_id,
        "name": tenant.name,
        "domain_id": domain_id,
        "parent_id": domain_id,
        "enabled": True,
        "is_domain": False,
        "description": "",
        "links": {"self": f"{base_url}/v3/projects/{tenant.project_id}"},
    }


IAM = web.AppKey("cbr_iam", Iam)


def _iam(request: web.Request) -> Iam:
    return request.app[IAM]


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _base_url(request: web.Request) -> str:
    return str(request.url.origin())


async def create_token(request: web.Request) -> web.Response:
    try:
        _, body = await read_json(request, MAX_TOKEN_REQUEST_BYTES)
    except CbrError as exc:
        raise IamError(400, exc.message) from None
    iam = _iam(request)
    token, issued = iam.issue(parse_token_request(body))
    return _json(201, token_body(issued), {"X-Subject-Token": token})


def _caller(request: web.Request) -> IssuedToken:
    token = request.headers.get("X-Auth-Token", "").strip()
    issued = _iam(request).lookup(token) if token else None
    if issued is None:
        raise IamError(401, "The request you have made requires authentication.")
    return issued


def _projects_response(request: web.Request, tenants: list[Tenant]) -> web.Response:
    base = _base_url(request)
    links = {"self": f"{base}{request.path}", "previous": None, "next": None}
    return _json(200, {"projects": [project_body(t, base) for t in tenants], "links": links})


async def list_auth_projects(request: web.Request) -> web.Response:
    issued = _caller(request)
    return _projects_response(request, _iam(request).user_projects(issued))


async def list_projects(request: web.Request) -> web.Response:
    issued = _caller(request)
    tenants = _iam(request).domain_projects(issued)
    name, domain_id = request.query.get("name"), request.query.get("domain_id")
    tenants = [
        t
        for t in tenants
        if name in (None, t.name) and domain_id in (None, stable_id("domain", t.domain_name))
    ]
    return _projects_response(request, tenants)


def iam_routes() -> list[web.RouteDef]:
    return [
        web.post("/v3/auth/tokens", create_token),
        web.get("/v3/auth/projects", list_auth_projects, allow_head=False),
        web.get("/v3/projects", list_projects, allow_head=False),
    ]
