from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from orchestrator.api.app import build_app, endpoints
from orchestrator.api.context import ApiContext
from orchestrator.api.spec import OPENAPI_PATH
from orchestrator.api.status_page import PAGE_PATHS
from orchestrator.config import Settings
from orchestrator.store import Store


async def test_healthz_and_readyz_answer_when_the_database_and_broker_do(client: Any) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ok", "database": "ok", "broker": "ok"}


async def test_readyz_is_503_naming_what_is_unreachable_without_its_url(
    api_settings: Settings, store: Store
) -> None:
    unreachable = api_settings.model_copy(update={"amqp_url": SecretStr("amqp://guest:s3cret@127.0.0.1:9/")})
    async with TestClient(TestServer(build_app(ApiContext(unreachable, store)))) as client:
        ready = await client.get("/readyz")
        body = await ready.text()
    assert ready.status == 503
    assert '"database":"ok"' in body.replace(" ", "") and "unreachable" in body and "s3cret" not in body


async def test_the_openapi_document_describes_exactly_what_is_routed(client: Any) -> None:
    document = await (await client.get(OPENAPI_PATH)).json()
    assert document["openapi"] == "3.1.0"
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    routed = {
        (route.method, route.resource.canonical)
        for route in client.server.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    pages = {(method, path) for method, path in routed if path in PAGE_PATHS}  # HTML, not the API
    assert described == {(e.method, e.path) for e in endpoints()}
    assert routed - pages == described | {("GET", OPENAPI_PATH)}
    assert {path for _, path in pages} == set(PAGE_PATHS)


async def test_an_unknown_path_is_a_problem_document(client: Any) -> None:
    answer = await client.get("/v1/nothing-here")
    assert answer.status == 404
    assert answer.content_type == "application/problem+json"
    assert (await answer.json())["status"] == 404


async def test_the_document_says_which_scope_a_command_needs_by_its_kind(client: Any) -> None:
    document = await (await client.get(OPENAPI_PATH)).json()
    for path in ("/v1/commands", "/v1/workflows/{id}/cancel"):
        operation = document["paths"][path]["post"]
        assert operation["x-scope"] == "by-kind"
        assert operation["x-scope-of-kind"] == {
            "backup": "backup",
            "fleet_backup": "backup",
            "restore": "restore",
            "replicate": "replicate",
            "restore_drill": "restore",
        }
    assert document["paths"]["/v1/workflows"]["get"]["x-scope"] == "read"


async def test_a_method_not_allowed_names_the_allowed_ones(client: Any) -> None:
    answer = await client.request("TRACE", "/healthz")
    assert answer.status == 405
    assert answer.content_type == "application/problem+json"
    assert "GET" in answer.headers["Allow"]
