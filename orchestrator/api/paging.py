"""Query strings and cursors: a query parsed into its model (422 naming the fields), and opaque cursors
that carry where the next page starts."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.api.problems import FieldProblem, ProblemError, field_problems

Query = TypeVar("Query", bound=BaseModel)
MAX_LIMIT = 1000


def query_of(request: web.Request, model: type[Query]) -> Query:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        problems = field_problems(exc.errors(include_url=False, include_input=False))
        raise ProblemError(
            422, "Unprocessable Content", "invalid query parameters", errors=problems
        ) from None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor carries, or a 422 (it is not one this server gave)."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        position = None
    if not isinstance(position, dict):
        raise bad_cursor()
    return position


def bad_cursor() -> ProblemError:
    return invalid_query([FieldProblem(location="cursor", message="not a cursor this server gave")])


def invalid_query(problems: list[FieldProblem]) -> ProblemError:
    return ProblemError(422, "Unprocessable Content", "invalid query parameters", errors=problems)
