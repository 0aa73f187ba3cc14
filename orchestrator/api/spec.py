"""The API's endpoints, declared once: aiohttp routes them and the OpenAPI 3.1 document describes them.

A test holds the document to the server: every route is described, every description is routed, and
the answers the tests receive validate against the schemas described for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from orchestrator import __version__
from orchestrator.api.keys import SCOPE_OF_KIND, Scope
from orchestrator.api.problems import Problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Schema = type[BaseModel] | TypeAdapter[Any]
REF = "#/components/schemas/{model}"
ByKind = Literal["by-kind"]
BY_KIND: ByKind = "by-kind"  # the scope of the command kind (SCOPE_OF_KIND), read from the body
OPENAPI_PATH = "/v1/openapi.json"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    handler: Handler
    scope: Scope | ByKind | None = None  # None: no API key (health, or a signed webhook)
    body: Schema | None = None
    query: type[BaseModel] | None = None
    responses: Mapping[int, Schema | str | None] = field(default_factory=dict)  # str: a media type
    headers: Mapping[str, str | None] = field(default_factory=dict)  # headers it reads -> their pattern


def routes_of(endpoints: Sequence[Endpoint]) -> list[web.RouteDef]:
    return [web.route(e.method, e.path, e.handler) for e in endpoints]


def openapi_document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "cbr-orchestrator", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "cbro key"}},
        },
    }


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "parameters": _parameters(endpoint, components),
        "responses": {str(status): _response(s, components) for status, s in endpoint.responses.items()},
    }
    if endpoint.scope is not None:
        operation["security"] = [{"apiKey": []}]
        operation["x-scope"] = endpoint.scope
        if endpoint.scope == BY_KIND:
            operation["x-scope-of-kind"] = dict(SCOPE_OF_KIND)
    if endpoint.body is not None:
        content = {"application/json": {"schema": _schema(endpoint.body, components)}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def _parameters(endpoint: Endpoint, components: dict[str, Any]) -> list[dict[str, Any]]:
    found = [
        {"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
        for name in endpoint.path.split("/")
        if name.startswith("{")
    ]
    found += [
        {"name": header, "in": "header", "required": False, "schema": _string(pattern)}
        for header, pattern in endpoint.headers.items()
    ]
    if endpoint.query is not None:
        schema = _inline(endpoint.query, components)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            found.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return found


def _string(pattern: str | None) -> dict[str, Any]:
    return {"type": "string"} if pattern is None else {"type": "string", "pattern": pattern}


def _response(schema: Schema | str | None, components: dict[str, Any]) -> dict[str, Any]:
    if schema is None:
        return {"description": "no body"}
    if isinstance(schema, str):
        return {"description": schema, "content": {schema: {"schema": {"type": "string"}}}}
    media = "application/problem+json" if schema is Problem else "application/json"
    return {"description": _name(schema), "content": {media: {"schema": _schema(schema, components)}}}


def _schema(schema: Schema, components: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema, TypeAdapter):
        return _inline(schema, components)
    components.setdefault(schema.__name__, _inline(schema, components))
    return {"$ref": REF.format(model=schema.__name__)}


def _inline(schema: Schema, components: dict[str, Any]) -> dict[str, Any]:
    adapter = schema if isinstance(schema, TypeAdapter) else TypeAdapter(schema)
    document = adapter.json_schema(ref_template=REF, mode="validation")
    components.update(document.pop("$defs", {}))
    return document


def _name(schema: Schema) -> str:
    return schema.__name__ if isinstance(schema, type) else "the body"
