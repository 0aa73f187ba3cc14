"""Errors the API gateway in front of CBR answers with, before the service sees the request.

Their body carries the request id as well: ``{"error_code": "APIGW.0301", "error_msg": "…",
"request_id": "…"}``. Codes:

* ``APIGW.0301`` 401: authentication failed (documented by Huawei);
* ``APIGW.0302`` 403: the identity may not use the project in the path, or ``X-Project-Id`` names another
  project than the path (our choice of code: the reference has no gateway code for either);
* ``APIG.0308`` 429: throttled, with ``Retry-After``;
* ``APIGW.0101`` 404: no such API; also 405 (with ``Allow``) when only the method is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


class GatewayError(Exception):
    """A gateway-level refusal: status, code, message and extra response headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, str]:
        return {"error_code": self.code, "error_msg": self.message, "request_id": request_id}

    @classmethod
    def unauthorized(cls, reason: str) -> GatewayError:
        return cls(401, "APIGW.0301", f"Incorrect IAM authentication information: {reason}")

    @classmethod
    def forbidden(cls, project_id: str) -> GatewayError:
        return cls(
            403,
            "APIGW.0302",
            f"The authenticated identity is not authorized to access project {project_id}",
        )

    @classmethod
    def project_mismatch(cls, header_project: str, path_project: str) -> GatewayError:
        message = f"The X-Project-Id header ({header_project}) does not match the project of the URI"
        message += f" ({path_project})"
        return cls(403, "APIGW.0302", message)

    @classmethod
    def throttled(cls, retry_after: float) -> GatewayError:
        seconds = max(1, math.ceil(retry_after))
        message = "The request is throttled. Retry after the time given in Retry-After."
        return cls(429, "APIG.0308", message, {"Retry-After": str(seconds)})

    @classmethod
    def not_found(cls) -> GatewayError:
        return cls(404, "APIGW.0101", "The API does not exist or has not been published in the environment")

    @classmethod
    def method_not_allowed(cls, method: str, allowed: list[str]) -> GatewayError:
        message = f"The API does not accept method {method}; allowed: {', '.join(allowed)}"
        return cls(405, "APIGW.0101", message, {"Allow": ", ".join(allowed)})
