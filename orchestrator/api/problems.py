"""Errors as problem details (RFC 9457): one JSON shape for every 4xx and 5xx, never echoing a secret."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One invalid field of a body: where it is and what is wrong (never the value itself)."""

    location: str
    message: str


class Problem(BaseModel):
    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(ge=400, le=599)
    detail: str | None = Field(default=None, description="What went wrong with this request.")
    instance: str | None = Field(default=None, description="The path of the request.")
    errors: list[FieldProblem] | None = Field(default=None, description="The invalid fields, for a 422.")


class ProblemError(Exception):
    """Raised by a handler to answer with a problem; the middleware turns it into the response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.problem = Problem(title=title, status=status, detail=detail, errors=errors)
        self.headers = headers or {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> web.Response:
    body = problem.model_dump_json(exclude_none=True)
    return web.Response(
        status=problem.status, text=body, content_type=PROBLEM_CONTENT_TYPE, headers=headers or {}
    )


def field_problems(errors: list[Any]) -> list[FieldProblem]:
    """pydantic's errors, reduced to where and what: the input value is left out (it may be a secret)."""
    return [
        FieldProblem(location=".".join(str(part) for part in e["loc"]) or "body", message=e["msg"])
        for e in errors
    ]
