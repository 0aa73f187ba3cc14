"""Traces: one trace from a command to its completion event, with OpenTelemetry, off unless asked for.

Turned on by the standard variables: ``OTEL_TRACES_EXPORTER`` set to anything but ``none``, or
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set; ``OTEL_SDK_DISABLED=true``
keeps it off whatever else is set. The SDK reads the rest itself (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``…).

OpenTelemetry is the ``tracing`` extra (``pip install 'cbr-orchestrator[tracing]'``) and is imported only
once tracing is on (:mod:`orchestrator.observability.otel`); without it, or with tracing off, every function
here costs next to nothing and records nothing.

The W3C ``traceparent`` of a command (its AMQP header, or its HTTP request's) is stored with its workflow,
so that whichever worker runs the workflow later continues the command's trace; the relay publishes the
completion event as part of it. With tracing off a valid incoming traceparent is still stored and passed on
unchanged in the event's headers, as W3C Trace Context asks of a hop that does not trace itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from orchestrator.observability.otel import Tracing

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_TRACE_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_active: Tracing | None = None


class SpanNotes(Protocol):
    """What a caller may add to the span it opened (an OpenTelemetry span is one)."""

    def set_attribute(self, key: str, value: Any) -> None: ...


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass


def valid_traceparent(value: object) -> str | None:
    """``value`` if it is a W3C traceparent (version 00's shape, ids not all zero), else None."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.match(value)
    if match is None or value.startswith("ff") or not match[1].strip("0") or not match[2].strip("0"):
        return None
    return value


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    return [name.strip() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces (see the module's text)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = exporter_names(environ)
    if names:
        return any(name != "none" for name in names)
    return any(environ.get(variable) for variable in _TRACE_ENDPOINTS)


def setup_tracing(default_service: str, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on if the environment asks for it (or an ``exporter`` is given, as tests do); whether
    it is on. Without OpenTelemetry installed it says so once and stays off."""
    global _active
    if _active is not None:
        return True
    if exporter is None and not requested():
        return False
    try:
        from orchestrator.observability.otel import Tracing
    except ImportError as exc:
        log.warning(
            "tracing is asked for (OTEL_*) but OpenTelemetry is not installed (%s is missing): install "
            "cbr-orchestrator[tracing]; running without traces",
            exc.name,
        )
        return False
    names = [] if exporter is not None else exporter_names(os.environ) or ["otlp"]
    _active = Tracing(default_service, names, exporter)
    return True


def shutdown_tracing() -> None:
    """Flush the spans not yet exported and turn tracing off (a no-op when it is off)."""
    global _active
    if _active is not None:
        active, _active = _active, None
        active.shutdown()


def enabled() -> bool:
    return _active is not None


@contextlib.contextmanager
def span(name: str, parent: str | None = None, **attributes: str | int | float | bool) -> Iterator[SpanNotes]:
    """A span around the block: a child of the current span, or of ``parent`` (a stored traceparent)."""
    if _active is None:
        yield _NoSpan()
        return
    with _active.span(name, attributes, parent) as opened:
        yield opened


@contextlib.contextmanager
def command_span(
    name: str, incoming: object, **attributes: str | int | float | bool
) -> Iterator[str | None]:
    """The span a command is accepted in; yields the traceparent to store with its workflow.

    Its parent is the current span if there is one (the aio-pika instrumentation's receive span, itself a
    child of the message's traceparent), else ``incoming`` (an HTTP request's ``traceparent`` header).
    With tracing off it yields ``incoming`` itself when that is a valid traceparent."""
    if _active is None:
        yield valid_traceparent(incoming)
        return
    from orchestrator.observability.otel import current_ids, current_traceparent

    parent = None if current_ids() is not None else valid_traceparent(incoming)
    with _active.span(name, attributes, parent):
        yield current_traceparent()


@contextlib.contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Within the block, spans (a publication's, say) are children of the stored ``traceparent``."""
    if _active is None or traceparent is None:
        yield
        return
    with _active.attached(traceparent):
        yield


def current_ids() -> tuple[str, str] | None:
    """The current span's (trace id, span id) in hex, for log lines; None with tracing off."""
    if _active is None:
        return None
    from orchestrator.observability.otel import current_ids as ids

    return ids()
