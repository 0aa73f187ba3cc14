"""The named SQL of refusals and undelivered replies (``problem_queries.sql`` beside this module)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from orchestrator.store.queries import parse_queries


@cache
def _queries() -> dict[str, str]:
    return parse_queries(
        resources.files("orchestrator.store").joinpath("problem_queries.sql").read_text("utf-8")
    )


def pq(name: str) -> str:
    return _queries()[name]


def problem_queries() -> dict[str, str]:
    return dict(_queries())
