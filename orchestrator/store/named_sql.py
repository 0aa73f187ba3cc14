"""Named SQL: every statement lives in a file of ``queries/`` under a ``-- name: <name>`` header.

A name is unique across all the files, so a statement is found by its name alone.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# the comment lines that open a statement explain it in the file; sent, they would name its trace span
# (the asyncpg instrumentation takes the statement's first word) "--" instead of SELECT, UPDATE…
_LEADING_COMMENTS = re.compile(r"\A(?:\s*--[^\n]*\n)+")


def parse_queries(text: str, into: dict[str, str] | None = None) -> dict[str, str]:
    parts = _HEADER.split(text)
    queries = {} if into is None else into
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} defined twice")
        queries[name] = _LEADING_COMMENTS.sub("", body.strip() + "\n").strip()
    return queries


@cache
def queries() -> dict[str, str]:
    """Every named statement of every file in ``queries/``."""
    found: dict[str, str] = {}
    folder = resources.files("orchestrator.store").joinpath("queries")
    for file in sorted(folder.iterdir(), key=lambda f: f.name):
        if file.name.endswith(".sql"):
            parse_queries(file.read_text("utf-8"), into=found)
    return found


def q(name: str) -> str:
    return queries()[name]
