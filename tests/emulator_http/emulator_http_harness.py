"""Tenants, a signing HTTP client and assertions shared by the emulator HTTP tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from cbr_emulator.config import EmulatorConfig, Progression, Tenant
from orchestrator.cbr.signing import Credentials, canonical_query, sign_request

# The project id in ``ALICE_EU`` is served by the same key as ``ALICE``: one account, two regions.
ALICE = Tenant(
    access_key="AKHTTPTESTALICE00001",
    secret_key="sk-alice/secret+key:with-colon-0001",
    project_id="a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    region="ap-southeast-1",
    domain_name="domain-alice",
    user_name="alice",
    password="alice-password",
)
ALICE_EU = Tenant(
    access_key=ALICE.access_key,
    secret_key=ALICE.secret_key,
    project_id="a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2",
    region="eu-west-101",
    domain_name="domain-alice",
    user_name="alice",
    password="alice-password",
)
BOB = Tenant(
    access_key="AKHTTPTESTBOB0000002",
    secret_key="sk-bob-secret-0002",
    project_id="b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
    region="eu-west-101",
    project_name="eu-west-101_bob",
    domain_name="domain-bob",
    user_name="bob",
    password="bob-password",
)
MAX_BODY = 4096


def make_config(**changes: Any) -> EmulatorConfig:
    settings: dict[str, Any] = {
        "tenants": [ALICE, ALICE_EU, BOB],
        "progression": Progression.instantly(),
        "max_body_bytes": MAX_BODY,
    }
    settings.update(changes)
    return EmulatorConfig(**settings)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass
class Http:
    """Plain and signed requests against one running emulator."""

    session: aiohttp.ClientSession
    base_url: str

    @property
    def host(self) -> str:
        return self.base_url.removeprefix("http://")

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        wait: float = 10.0,
    ) -> Answer:
        url = URL(f"{self.base_url}{path}{'?' + query if query else ''}", encoded=True)
        async with self.session.request(
            method,
            url,
            headers=dict(headers or {}),
            data=body,
            timeout=aiohttp.ClientTimeout(total=wait),
            skip_auto_headers=("Content-Type",),
        ) as response:
            return Answer(response.status, CIMultiDict(response.headers), await response.text())

    async def signed(
        self,
        method: str,
        suffix: str,
        *,
        tenant: Tenant = ALICE,
        project_id: str | None = None,
        query: Iterable[tuple[str, str]] = (),
        json_body: Any = None,
        raw_body: bytes | None = None,
        content_type: str | None = None,
        now: datetime | None = None,
        secret_key: str | None = None,
        wait: float = 10.0,
        header_project: str | None = None,
    ) -> Answer:
        """Sign as the SDK does: path ``/v3/{project}{suffix}`` (already encoded), query pairs decoded;
        ``X-Project-Id`` is the path's project unless ``header_project`` says otherwise."""
        project = project_id or tenant.project_id
        path = f"/v3/{project}{suffix}"
        body = (
            raw_body
            if raw_body is not None
            else None
            if json_body is None
            else json.dumps(json_body).encode()
        )
        default_type = "application/json;charset=utf-8" if method in ("POST", "PUT") else "application/json"
        headers = {"Content-Type": content_type or default_type, "X-Project-Id": header_project or project}
        credentials = Credentials(tenant.access_key, secret_key or tenant.secret_key)
        pairs = list(query)
        signed = sign_request(credentials, method, self.host, path, pairs, headers, body, now=now)
        return await self.send(
            method, path, query=canonical_query(pairs), headers=signed, body=body, wait=wait
        )

    async def with_token(
        self,
        method: str,
        suffix: str,
        token: str,
        project_id: str,
        header_project: str | None = None,
        **kw: Any,
    ) -> Answer:
        headers = {"Content-Type": "application/json", "X-Auth-Token": token}
        if header_project is not None:
            headers["X-Project-Id"] = header_project
        body = json.dumps(kw["json_body"]).encode() if "json_body" in kw else None
        return await self.send(method, f"/v3/{project_id}{suffix}", headers=headers, body=body)

    async def admin(self, method: str, path: str, body: Any = None) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        headers = {} if data is None else {"Content-Type": "application/json"}
        return await self.send(method, f"/_emulator/{path}", headers=headers, body=data)

    async def token(self, tenant: Tenant = ALICE, password: str | None = None, **scope: str) -> Answer:
        project = scope or {"name": tenant.name}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": tenant.user_name,
                            "password": tenant.password if password is None else password,
                            "domain": {"name": tenant.domain_name},
                        }
                    },
                },
                "scope": {"project": project},
            }
        }
        headers = {"Content-Type": "application/json;charset=utf8"}
        return await self.send("POST", "/v3/auth/tokens", headers=headers, body=json.dumps(body).encode())


def vault_request(name: str = "vault-http") -> dict[str, Any]:
    return {
        "vault": {
            "name": name,
            "billing": {
                "consistent_level": "crash_consistent",
                "object_type": "server",
                "protect_type": "backup",
                "size": 100_000,  # room for the backups of any servers the tests make
                "charging_mode": "post_paid",
                "cloud_type": "public",
            },
            "resources": [],
        }
    }


def assert_gateway_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer.text
    body: dict[str, Any] = answer.json
    assert body["error_code"] == code
    assert body["request_id"] == answer.headers["X-Request-Id"]
    assert isinstance(body["error_msg"], str)
    return body


def assert_cbr_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer.text
    body: dict[str, Any] = answer.json
    assert set(body) == {"error_code", "error_msg"}
    assert body["error_code"] == code
    return body
