"""The ids a log line carries (workflow, command, kind, project, CBR request), held in a context variable.

A task binds them once (the engine for a workflow's run, intake for a command) and every line logged in
that task, and in the tasks it starts, carries them without passing them around. Only ids go here: never
a credential, a token or a message body.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

FIELDS = ("workflow_id", "command_id", "kind", "project", "region", "cbr_request_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_bound: ContextVar[Mapping[str, str]] = ContextVar("cbr_orch_log_fields", default=_EMPTY)


def _merged(fields: Mapping[str, object]) -> Mapping[str, str]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not a log field: {', '.join(sorted(unknown))}")
    merged = dict(_bound.get())
    for name, value in fields.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    return MappingProxyType(merged)


@contextlib.contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Within the block, log lines of this task carry ``fields`` (a None value: no such field)."""
    token = _bound.set(_merged(fields))
    try:
        yield
    finally:
        _bound.reset(token)


def bind(**fields: object) -> None:
    """From now on, log lines of this task carry ``fields`` too (until the enclosing :func:`bound` ends)."""
    _bound.set(_merged(fields))


def current() -> Mapping[str, str]:
    return _bound.get()
