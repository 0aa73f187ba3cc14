"""Logging of the orchestrator's processes, set up in one place: JSON lines, or readable lines on a terminal.

Every line carries the ids bound in :mod:`orchestrator.observability.log_context` (workflow, command, kind,
project, region, CBR request id) and, when tracing is on, the trace and span ids of the current span.
``CBR_ORCH_LOG_FORMAT`` (``json`` or ``text``; by default text when stderr is a terminal, JSON otherwise)
and ``CBR_ORCH_LOG_LEVEL`` (a level name, INFO by default) choose the rest.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import IO

from pythonjsonlogger.json import JsonFormatter

from orchestrator.observability import log_context, tracing

FORMAT_VARIABLE = "CBR_ORCH_LOG_FORMAT"
LEVEL_VARIABLE = "CBR_ORCH_LOG_LEVEL"
FORMATS = ("json", "text")
TRACE_FIELDS = ("trace_id", "span_id")
CONTEXT_FIELDS = (*log_context.FIELDS, *TRACE_FIELDS)


class LogSettingError(ValueError):
    """A logging variable with a value it cannot take; the message names the variable."""


class ContextFilter(logging.Filter):
    """Copies the task's bound ids and the current span's ids onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context.current().items():
            setattr(record, name, value)
        ids = tracing.current_ids()
        if ids is not None:
            record.trace_id, record.span_id = ids
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [name=value …]: message``, for people."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)]
        record.context = f" [{' '.join(fields)}]" if fields else ""
        return super().format(record)


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def chosen_format(environ: Mapping[str, str], stream: IO[str]) -> str:
    given = environ.get(FORMAT_VARIABLE, "").strip().lower()
    if not given:
        return "text" if stream.isatty() else "json"
    if given not in FORMATS:
        raise LogSettingError(f"{FORMAT_VARIABLE}={given!r}: give json or text")
    return given


def chosen_level(environ: Mapping[str, str]) -> int:
    given = environ.get(LEVEL_VARIABLE, "").strip().upper() or "INFO"
    level = logging.getLevelNamesMapping().get(given)
    if level is None:
        raise LogSettingError(f"{LEVEL_VARIABLE}={given!r}: give DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def setup_logging(stream: IO[str] | None = None, environ: Mapping[str, str] = os.environ) -> logging.Handler:
    """Send every log record of the process to ``stream`` (stderr) in the chosen format, replacing the
    handler an earlier call installed; raises :class:`LogSettingError` for a bad variable."""
    out = stream if stream is not None else sys.stderr
    form, level = chosen_format(environ, out), chosen_level(environ)
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter() if form == "text" else json_formatter())
    handler.addFilter(ContextFilter())
    handler.set_name("cbr-orchestrator")
    root = logging.getLogger()
    for earlier in [h for h in root.handlers if h.get_name() == handler.get_name()]:
        root.removeHandler(earlier)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
