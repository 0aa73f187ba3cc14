"""Named SQL: every statement lives in ``queries.sql`` under a ``-- name: <name>`` header."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} defined twice")
        queries[name] = body.strip()
    return queries


@cache
def queries() -> dict[str, str]:
    text = resources.files("orchestrator.store").joinpath("queries.sql").read_text("utf-8")
    return parse_queries(text)


def q(name: str) -> str:
    return queries()[name]
