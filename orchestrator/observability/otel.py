"""The OpenTelemetry SDK at work: provider, exporters, sampler and the instrumentations of aio-pika, the
aiohttp client and asyncpg. Imported by :mod:`orchestrator.observability.tracing` only once tracing is on,
so the package runs without the ``tracing`` extra installed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context, trace
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from yarl import URL

log = logging.getLogger(__name__)

TRACER_NAME = "cbr-orchestrator"
# the W3C header stored with a workflow, whatever OTEL_PROPAGATORS says for the wire
_W3C = TraceContextTextMapPropagator()
AttributeValue = str | int | float | bool


class NoStrayClientRoots(Sampler):
    """Records every trace a command starts, and not the SQL statements or HTTP requests that belong to
    none (claims, the relay's polls, lease heartbeats): a client span without a parent is dropped."""

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "NoStrayClientRoots"


def _sampler() -> Sampler | None:
    """The operator's OTEL_TRACES_SAMPLER if set (None lets the SDK read it); else ours, parent based."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ParentBased(root=NoStrayClientRoots())


def _exporters(names: Sequence[str]) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _warn_of_another_protocol()
            exporters.append(OTLPSpanExporter())  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_*
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            log.warning("OTEL_TRACES_EXPORTER: %r is not supported here (otlp, console, none); ignored", name)
    return exporters


def _warn_of_another_protocol() -> None:
    variables = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    asked = next((os.environ[v] for v in variables if os.environ.get(v)), None)
    if asked and asked != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%r is not shipped here: OTLP goes over http/protobuf", asked)


def url_recorded(url: URL) -> str:
    """An HTTP request's URL as its span records it: without the query, which in a callback's URL may
    hold a token (and in CBR's holds nothing the span needs)."""
    return str(url.with_query(None).with_fragment(None))


def _instrument(provider: TracerProvider) -> list[BaseInstrumentor]:
    asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    aiohttp_client = AioHttpClientInstrumentor()
    aio_pika = AioPikaInstrumentor()
    aiohttp_client.instrument(tracer_provider=provider, url_filter=url_recorded)
    for instrumentor in (asyncpg, aio_pika):
        instrumentor.instrument(tracer_provider=provider)
    return [asyncpg, aiohttp_client, aio_pika]


class Tracing:
    """One tracer provider and the instrumentations pointed at it, until :meth:`shutdown`."""

    def __init__(self, default_service: str, exporter_names: Sequence[str], exporter: SpanExporter | None):
        given = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: default_service}
        self._provider = TracerProvider(resource=Resource.create(given), sampler=_sampler())
        if exporter is not None:  # a test's: every span handed over as it ends
            self._provider.add_span_processor(SimpleSpanProcessor(exporter))
        for chosen in _exporters(exporter_names):
            self._provider.add_span_processor(BatchSpanProcessor(chosen))
        self._tracer = self._provider.get_tracer(TRACER_NAME)
        self._instrumented = _instrument(self._provider)

    def shutdown(self) -> None:
        """Undo the instrumentations and flush what is left to the exporters."""
        for instrumentor in self._instrumented:
            instrumentor.uninstrument()
        self._provider.shutdown()

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: Mapping[str, AttributeValue], parent: str | None = None
    ) -> Iterator[Span]:
        """A span of the current context's trace, or a child of ``parent`` (a traceparent) when given."""
        parent_context = _context_of(parent) if parent is not None else None
        with self._tracer.start_as_current_span(name, context=parent_context, attributes=attributes) as span:
            yield span

    @contextlib.contextmanager
    def attached(self, traceparent: str) -> Iterator[None]:
        """Within the block, the current context is the span ``traceparent`` names."""
        token = context.attach(_context_of(traceparent))
        try:
            yield
        finally:
            context.detach(token)


def _context_of(traceparent: str) -> context.Context:
    return _W3C.extract({"traceparent": traceparent})


def current_traceparent() -> str | None:
    carrier: dict[str, Any] = {}
    _W3C.inject(carrier)
    value = carrier.get("traceparent")
    return value if isinstance(value, str) else None


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id (hex), if a span is recording."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return format(found.trace_id, "032x"), format(found.span_id, "016x")
