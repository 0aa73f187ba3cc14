"""Who is calling: AK/SK signatures or IAM tokens, checked the way Huawei's API gateway does.

* ``Authorization: SDK-HMAC-SHA256 …`` is verified with :func:`orchestrator.cbr.signing.verify_request`
  against the tenants' secrets; ``X-Sdk-Date`` may be ``max_skew`` (15 min) away from the server time.
  ``X-Security-Token`` is accepted (and signed like any header) but not checked: the emulator issues
  no temporary credentials.
* Otherwise ``X-Auth-Token`` must be a live token issued by this emulator's IAM.

Any failure is 401 ``APIGW.0301``; an identity asking for a project it may not use, or an ``X-Project-Id``
header naming another project than the path, is 403 ``APIGW.0302``. An AK may use the projects of every
tenant configured with it; a token only its own project. Messages name the reason, never a secret, token
or signature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cbr_emulator.gateway import GatewayError
from cbr_emulator.iam import Iam
from cbr_emulator.tenants import TenantDirectory
from orchestrator.cbr.signing import SignatureError, verify_request


@dataclass(frozen=True)
class Identity:
    principal: str  # "ak:<access key>" or "user:<domain>/<user>"; never a secret
    projects: frozenset[str]

    def authorize(self, project_id: str) -> None:
        if project_id not in self.projects:
            raise GatewayError.forbidden(project_id)


PROJECT_HEADER = "X-Project-Id"


def check_project_header(headers: Mapping[str, str], project_id: str) -> None:
    """``X-Project-Id``, when sent (the SDK sends it, and signs it), must name the project of the path:
    403 ``APIGW.0302`` otherwise, as for any project the caller may not use there."""
    sent = headers.get(PROJECT_HEADER)
    if sent is not None and sent.strip() != project_id:
        raise GatewayError.project_mismatch(sent.strip(), project_id)


@dataclass(frozen=True)
class SignedParts:
    """What the signature covers, as received."""

    method: str
    raw_path: str  # without the query string
    raw_query: str
    headers: Mapping[str, str]
    body: bytes


class Authenticator:
    def __init__(
        self,
        tenants: TenantDirectory,
        iam: Iam,
        signature_now: Callable[[], datetime],
        max_skew: timedelta,
    ) -> None:
        self._tenants = tenants
        self._iam = iam
        self._signature_now = signature_now
        self._max_skew = max_skew

    def authenticate(self, parts: SignedParts) -> Identity:
        if "Authorization" in parts.headers:
            return self._by_signature(parts)
        token = parts.headers.get("X-Auth-Token")
        if token is not None:
            return self._by_token(token.strip())
        raise GatewayError.unauthorized(
            "the request carries neither an Authorization nor an X-Auth-Token header"
        )

    def _by_signature(self, parts: SignedParts) -> Identity:
        try:
            verified = verify_request(
                parts.method,
                parts.raw_path,
                parts.raw_query,
                parts.headers,
                parts.body,
                self._tenants.secret_for,
                self._signature_now(),
                self._max_skew,
            )
        except SignatureError as exc:
            raise GatewayError.unauthorized(f"verify aksk signature fail: {exc}") from None
        key = verified.access_key
        return Identity(principal=f"ak:{key}", projects=self._tenants.projects_of_key(key))

    def _by_token(self, token: str) -> Identity:
        issued = self._iam.lookup(token)
        if issued is None:
            raise GatewayError.unauthorized("the token is unknown or expired")
        tenant = issued.tenant
        return Identity(
            principal=f"user:{tenant.domain_name}/{tenant.user_name}", projects=frozenset({tenant.project_id})
        )
