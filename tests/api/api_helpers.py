"""What the API's tests share: a client whose every answer is held to the OpenAPI document, commands,
and counting the workflows.

Every answer a :class:`conforming_client` receives must have a status the document lists for the
operation, and a body that validates against the schema listed for that status.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler
from jsonschema import Draft202012Validator

from orchestrator.api.app import build_app, endpoints
from orchestrator.api.context import ApiContext
from orchestrator.api.spec import openapi_document
from orchestrator.config import Settings
from orchestrator.store import Store

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # has credentials in api_settings (the emulator's tenant)
REGION = "eu-west-101"
OTHER_PROJECT = "f" * 32


class conforming_client:
    """A test client whose every answer is checked against the OpenAPI document as it arrives; any
    mismatch fails the test when the client closes."""

    def __init__(self, settings: Settings, store: Store) -> None:
        app = build_app(ApiContext(settings, store))
        self.mismatches: list[str] = []
        app.middlewares.insert(0, answer_checker(openapi_document(endpoints()), self.mismatches))
        self._client = TestClient(TestServer(app))

    async def __aenter__(self) -> TestClient[Any, Any]:
        return await self._client.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(None, None, None)
        assert not self.mismatches, "answers the OpenAPI document does not describe:\n" + "\n".join(
            self.mismatches
        )


def answer_checker(document: dict[str, Any], mismatches: list[str]) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else None
        operation = document["paths"].get(path, {}).get(request.method.lower())
        if operation is not None and isinstance(response, web.Response):
            mismatch = mismatch_of(document, operation, response)
            if mismatch is not None:
                mismatches.append(f"{request.method} {path} → {response.status}: {mismatch}")
        return response

    return check


def mismatch_of(document: dict[str, Any], operation: dict[str, Any], response: web.Response) -> str | None:
    """What is wrong with ``response`` as an answer of ``operation``, or None."""
    described = operation["responses"].get(str(response.status))
    if described is None:
        return "a status the document does not list"
    content = described.get("content", {})
    media = content.get(response.content_type)
    if media is None:
        return f"a {response.content_type} body, the document lists {sorted(content) or 'none'}"
    schema = {**media["schema"], "components": document["components"]}
    assert isinstance(response.body, bytes)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(json.loads(response.body))]
    return "; ".join(errors[:3]) if errors else None


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def backup_body(command_id: str = "api-backup-1", project: str = PROJECT, **over: Any) -> dict[str, Any]:
    return {
        "kind": "backup",
        "command_id": command_id,
        "project_id": project,
        "region": REGION,
        "vault": {"name": "vault-api"},
        "resources": [{"id": "server-1"}, {"id": "server-2"}, {"id": "server-3"}],
        **over,
    }


async def workflow_count(store: Store) -> int:
    return sum((await store.count_by_status()).values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
